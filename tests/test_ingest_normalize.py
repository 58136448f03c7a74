import copy
import sys
import time
import uuid
import zlib

import orjson
import pytest

from sentrail.domain.ingest_normalize import EVENT_KEYS
from sentrail.domain.ingest_normalize import normalize_event
from sentrail.domain.ingest_payload import decode_body
from sentrail.domain.ingest_payload import parse_envelope
from sentrail.domain.ingest_payload import parse_json

NOW = 1795764600.0
MB = 1024 * 1024

SENTRY_CLI_MINIMAL = {
    'event_id': 'cbda82bf037648e0aecc6ba284a1175c', 'logentry': {'message': 'hello world'}, 'platform': 'native',
    'timestamp': 1795764213.8946664, 'server_name': 'vm', 'environment': 'production',
    'user': {'ip_address': '{{auto}}', 'username': 'root'},
    'contexts': {'device': {'type': 'device', 'arch': 'x86_64'},
                 'os': {'type': 'os', 'name': 'Linux', 'version': '6.18.44-fc-v669'}},
    'sdk': {'name': 'sentry-cli', 'version': '3.8.2'},
}

SENTRY_CLI_FULL = {
    'event_id': 'ac87c7b3a721442ca1c25eed40d3efe6', 'level': 'warning', 'fingerprint': ['fp1'],
    'logentry': {'message': 'hello %s', 'params': ['there']}, 'platform': 'python', 'timestamp': 1700000000,
    'server_name': 'vm', 'release': '1.2.3', 'dist': 'dist1', 'environment': 'production',
    'user': {'id': '42', 'ip_address': '{{auto}}'}, 'tags': {'k': 'v'}, 'extra': {'ek': 'ev'},
    'sdk': {'name': 'sentry-cli', 'version': '3.8.2'},
}

RAVEN_MESSAGE = {
    'tags': {}, 'extra': {'sys.argv': ["'sdk/raven_test.py'", "'38221'", "'secret'"]},
    'sentry.interfaces.Message': {'message': 'hello from raven', 'params': [], 'formatted': None},
    'message': 'hello from raven', 'level': 'warning', 'server_name': 'vm', 'modules': {'python': '3.11.7'},
    'release': '1.0.0', 'environment': 'production', 'project': '42', 'timestamp': '2026-11-27T07:29:38Z',
    'time_spent': None, 'event_id': 'f6189646129b4176a422abbc9a29e325', 'platform': 'python',
    'sdk': {'name': 'raven-python', 'version': '6.10.0'}, 'repos': {},
    'breadcrumbs': {'values': [
        {'type': 'default', 'timestamp': 1795764578.5703912, 'level': 'debug', 'message': 'Sending message',
         'category': 'raven.base.Client', 'data': {}},
        {'type': 'http', 'timestamp': 1795764578.5708957, 'level': None, 'message': None, 'category': 'requests',
         'data': {'url': 'http://127.0.0.1:38221/api/42/store/', 'method': 'POST', 'status_code': 200}},
    ]},
}


def normalize(raw, **kwargs):
    kwargs.setdefault('received_at', NOW)
    kwargs.setdefault('project_id', 42)
    return normalize_event(raw, **kwargs)


def error_names(event):
    return {error['name'] for error in event['errors']}


def tags(event):
    return dict(event['tags'])


@pytest.fixture
def sdk_envelopes():
    """Events produced by the real sentry-sdk, captured before any network transport."""
    sentry_sdk = pytest.importorskip('sentry_sdk')
    from sentry_sdk.transport import Transport

    captured = []

    class Capture(Transport):
        def capture_envelope(self, envelope):
            captured.append(envelope.serialize())

    client = sentry_sdk.Client('http://publickey@127.0.0.1:9/42', transport=Capture, default_integrations=False,
                               release='myapp@1.0.0', environment='staging', server_name='vm')
    with sentry_sdk.new_scope() as scope:
        scope.set_client(client)
        scope.set_tag('tenant', 'acme')
        scope.set_user({'id': 7, 'email': 'jane@example.com'})
        try:
            {}['missing']
        except KeyError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.capture_message('hello from sentry-sdk', level='warning')
    client.close()
    return captured


class TestRealClients:
    def test_sentry_cli_minimal(self):
        event = normalize(SENTRY_CLI_MINIMAL)
        assert event['event_id'] == 'cbda82bf037648e0aecc6ba284a1175c'
        assert event['timestamp'] == pytest.approx(1795764213.894666)
        assert event['level'] == 'error'
        assert event['platform'] == 'native'
        assert event['logentry'] == {'message': 'hello world', 'formatted': 'hello world', 'params': []}
        assert event['message'] == 'hello world'
        assert event['user'] == {'username': 'root'}
        assert event['contexts']['os']['name'] == 'Linux'
        assert event['sdk'] == {'name': 'sentry-cli', 'version': '3.8.2'}
        assert event['tags'] == [['level', 'error'], ['environment', 'production'], ['server_name', 'vm'],
                                 ['user', 'username:root']]
        assert event['errors'] == []

    def test_auto_ip_is_filled_from_the_client_address(self):
        event = normalize(SENTRY_CLI_MINIMAL, client_ip='203.0.113.9')
        assert event['user'] == {'username': 'root', 'ip_address': '203.0.113.9'}
        assert tags(event)['user'] == 'username:root'

    def test_sentry_cli_full(self):
        event = normalize(SENTRY_CLI_FULL)
        assert event['level'] == 'warning'
        assert event['timestamp'] == 1700000000.0
        assert event['fingerprint'] == ['fp1']
        assert event['logentry'] == {'message': 'hello %s', 'formatted': 'hello there', 'params': ['there']}
        assert event['message'] == 'hello there'
        assert event['extra'] == {'ek': 'ev'}
        assert (event['release'], event['dist'], event['environment']) == ('1.2.3', 'dist1', 'production')
        assert event['tags'] == [
            ['k', 'v'], ['level', 'warning'], ['environment', 'production'], ['release', '1.2.3'],
            ['dist', 'dist1'], ['server_name', 'vm'], ['user', 'id:42'],
        ]

    def test_sentry_cli_raw_file_without_event_id(self):
        event = normalize({'message': 'from file', 'level': 'info', 'tags': {'a': 'b'}})
        assert len(event['event_id']) == 32
        assert event['timestamp'] == NOW
        assert event['logentry']['message'] == 'from file'
        assert event['platform'] == 'other'

    def test_sentry_sdk_exception(self, sdk_envelopes):
        header, items = parse_envelope(sdk_envelopes[0])
        event = normalize(parse_json(items[0][1]), received_at=time.time())
        assert event['event_id'] == header['event_id']
        assert event['level'] == 'error'
        assert event['platform'] == 'python'
        assert abs(event['timestamp'] - time.time()) < 60
        (value,) = event['exception']['values']
        assert value['type'] == 'KeyError'
        assert value['value'] == "'missing'"
        assert value['mechanism']['type'] == 'generic'
        frame = value['stacktrace']['frames'][-1]
        assert frame['function'] == 'sdk_envelopes'
        assert frame['context_line'].strip() == "{}['missing']"
        assert frame['in_app'] is True
        assert isinstance(frame['lineno'], int)
        assert frame['pre_context'] and frame['post_context']
        assert isinstance(frame['vars'], dict)
        assert event['user'] == {'id': '7', 'email': 'jane@example.com'}
        assert tags(event) == {'tenant': 'acme', 'level': 'error', 'environment': 'staging',
                               'release': 'myapp@1.0.0', 'server_name': 'vm', 'user': 'id:7'}
        assert event['contexts']['trace']['type'] == 'trace'

    def test_sentry_sdk_message(self, sdk_envelopes):
        _, items = parse_envelope(sdk_envelopes[1])
        event = normalize(parse_json(items[0][1]), received_at=time.time())
        assert event['level'] == 'warning'
        assert event['logentry'] == {'message': 'hello from sentry-sdk', 'formatted': 'hello from sentry-sdk',
                                     'params': []}
        assert event['exception'] is None

    def test_raven_message(self):
        event = normalize(RAVEN_MESSAGE)
        assert event['timestamp'] == 1795764578.0
        assert event['level'] == 'warning'
        assert event['logentry'] == {'message': 'hello from raven', 'formatted': 'hello from raven', 'params': []}
        assert event['modules'] == {'python': '3.11.7'}
        crumbs = event['breadcrumbs']['values']
        assert crumbs[0] == {'timestamp': 1795764578.570391, 'type': 'default', 'category': 'raven.base.Client',
                             'level': 'debug', 'message': 'Sending message', 'data': None}
        assert crumbs[1]['level'] == 'info'
        assert crumbs[1]['data']['status_code'] == 200
        assert event['errors'] == []

    def test_raven_exception_through_the_store_body(self):
        raven = pytest.importorskip('raven')
        client = raven.Client('http://publickey:secretkey@127.0.0.1:9/42', install_sys_hook=False,
                              install_logging_hook=False, enable_breadcrumbs=False, release='1.0.0')
        try:
            1 / 0
        except ZeroDivisionError:
            data = client.build_msg('raven.events.Exception', exc_info=sys.exc_info())
        body = client.encode(data)
        event = normalize(parse_json(decode_body(body, 'deflate', max_size=MB)), received_at=time.time())
        assert event['level'] == 'error'  # raven sends the integer 40
        assert event['event_id'] == data['event_id']
        (value,) = event['exception']['values']
        assert (value['type'], value['value']) == ('ZeroDivisionError', 'division by zero')
        assert value['stacktrace']['frames'][-1]['context_line'].strip() == '1 / 0'
        assert event['logentry']['message'] == 'ZeroDivisionError: division by zero'
        assert tags(event)['release'] == '1.0.0'

    def test_raven_message_with_params(self):
        raven = pytest.importorskip('raven')
        client = raven.Client('http://publickey@127.0.0.1:9/42', install_sys_hook=False,
                              install_logging_hook=False, enable_breadcrumbs=False)
        data = client.build_msg('raven.events.Message', message='hello %s', params=('x',), level=30)
        event = normalize(parse_json(zlib.decompress(client.encode(data))))
        assert event['level'] == 'warning'
        assert event['logentry'] == {'message': 'hello %s', 'formatted': "hello 'x'", 'params': ["'x'"]}


class TestLevel:
    @pytest.mark.parametrize('raw, level', [
        (10, 'debug'), (20, 'info'), (30, 'warning'), (40, 'error'), (50, 'fatal'),
        (0, 'debug'), (25, 'info'), (45, 'error'), (60, 'fatal'), ('40', 'error'), (40.0, 'error'),
        ('debug', 'debug'), ('INFO', 'info'), ('warning', 'warning'), ('warn', 'warning'),
        ('error', 'error'), ('fatal', 'fatal'), ('critical', 'fatal'), ('CRITICAL', 'fatal'), (' info ', 'info'),
        (None, 'error'),
    ])
    def test_levels(self, raw, level):
        event = normalize({'level': raw})
        assert event['level'] == level
        assert event['errors'] == []

    @pytest.mark.parametrize('raw', ['verbose', '', True, {'x': 1}, [40]])
    def test_unknown_levels_become_error(self, raw):
        event = normalize({'level': raw})
        assert event['level'] == 'error'
        assert event['errors'] == [{'type': 'invalid_data', 'name': 'level'}]


class TestTimestamp:
    @pytest.mark.parametrize('raw, expected', [
        (1795764213.8946664, 1795764213.894666),
        (1700000000, 1700000000.0),
        ('1700000000.5', 1700000000.5),
        ('2026-11-27T07:29:12.967140Z', 1795764552.96714),
        ('2026-11-27T07:29:38Z', 1795764578.0),
        ('2026-11-27T07:29:38', 1795764578.0),
        ('2026-11-27 07:29:38', 1795764578.0),
        ('2026-11-27T09:29:38+02:00', 1795764578.0),
        ('2026-11-27T07:29:38.123456789Z', 1795764578.123456),
    ])
    def test_accepted_forms(self, raw, expected):
        event = normalize({'timestamp': raw})
        assert event['timestamp'] == pytest.approx(expected, abs=1e-6)
        assert isinstance(event['timestamp'], float)
        assert event['errors'] == []

    def test_missing_uses_received_at(self):
        event = normalize({})
        assert event['timestamp'] == NOW
        assert event['received'] == NOW

    @pytest.mark.parametrize('raw', ['yesterday', '', True, [1], {'t': 1}, -5, 1e20, '2026-13-45T00:00:00Z'])
    def test_invalid_uses_received_at(self, raw):
        event = normalize({'timestamp': raw})
        assert event['timestamp'] == NOW
        assert error_names(event) == {'timestamp'}

    def test_far_future_is_clamped(self):
        event = normalize({'timestamp': NOW + 3600})
        assert event['timestamp'] == NOW
        assert event['errors'] == [{'type': 'future_timestamp', 'name': 'timestamp'}]
        assert normalize({'timestamp': NOW + 30})['timestamp'] == NOW + 30

    def test_old_timestamps_are_kept(self):
        assert normalize({'timestamp': 1000000000})['timestamp'] == 1000000000.0


class TestEventId:
    def test_hyphenated_and_uppercase(self):
        assert normalize({'event_id': 'CBDA82BF-0376-48E0-AECC-6BA284A1175C'})['event_id'] == \
            'cbda82bf037648e0aecc6ba284a1175c'

    @pytest.mark.parametrize('raw', [None, '00000000-0000-0000-0000-000000000000', '0' * 32])
    def test_missing_or_nil_is_generated(self, raw):
        event = normalize({'event_id': raw})
        assert uuid.UUID(event['event_id']).hex == event['event_id'] != '0' * 32
        assert event['errors'] == []

    @pytest.mark.parametrize('raw', ['xyz', 'g' * 32, 'a' * 31, 12345, ['a' * 32]])
    def test_invalid_is_replaced(self, raw):
        event = normalize({'event_id': raw})
        assert len(event['event_id']) == 32
        assert event['errors'] == [{'type': 'invalid_data', 'name': 'event_id'}]

    def test_generated_ids_differ(self):
        assert normalize({})['event_id'] != normalize({})['event_id']


class TestMessage:
    def test_plain_string(self):
        assert normalize({'message': 'boom'})['logentry'] == {'message': 'boom', 'formatted': 'boom', 'params': []}

    def test_message_object_with_formatted(self):
        event = normalize({'message': {'formatted': 'user 7 failed'}})
        assert event['logentry'] == {'message': 'user 7 failed', 'formatted': 'user 7 failed', 'params': []}

    def test_message_object_with_template_and_params(self):
        event = normalize({'message': {'message': 'user %s failed %d times', 'params': ['bob', 3]}})
        assert event['logentry']['formatted'] == 'user bob failed 3 times'
        assert event['logentry']['message'] == 'user %s failed %d times'

    def test_logentry_wins_over_message(self):
        event = normalize({'logentry': {'message': 'template %s', 'params': ['x']}, 'message': 'other'})
        assert event['logentry'] == {'message': 'template %s', 'formatted': 'template x', 'params': ['x']}

    def test_given_formatted_is_kept(self):
        event = normalize({'logentry': {'message': 'a %s', 'params': ['b'], 'formatted': 'A B'}})
        assert event['logentry']['formatted'] == 'A B'

    @pytest.mark.parametrize('template, params, formatted', [
        ('%(user)s did %(what)s', {'user': 'bob', 'what': 'it'}, 'bob did it'),
        ('100%% sure %s', ['yes'], '100% sure yes'),
        ('%s and %s', ['one'], '%s and %s'),
        ('%(missing)s', {'x': 1}, '%(missing)s'),
        ('%0999999999d', [1], '%0999999999d'),
        ('%s %r %i %f', [None, True, 1, 1.5], 'None True 1 1.5'),
        ('%s', [{'a': [1]}], '{"a":[1]}'),
        ('no placeholders', ['ignored'], 'no placeholders'),
    ])
    def test_formatting_is_safe(self, template, params, formatted):
        event = normalize({'logentry': {'message': template, 'params': params}})
        assert event['logentry']['formatted'] == formatted

    def test_empty_message_means_no_logentry(self):
        event = normalize({'message': '', 'logentry': {'message': None}})
        assert event['logentry'] is None
        assert event['message'] == ''

    def test_invalid_logentry_falls_back_to_message(self):
        event = normalize({'logentry': 'not an object', 'message': 'fallback'})
        assert event['logentry']['message'] == 'fallback'
        assert error_names(event) == {'logentry'}


FRAME = {
    'filename': 'app/views.py', 'abs_path': '/srv/app/views.py', 'module': 'app.views', 'function': 'index',
    'lineno': 12, 'colno': 4, 'context_line': '    raise ValueError(x)', 'pre_context': ['a', 'b'],
    'post_context': ['c'], 'in_app': True, 'vars': {'x': "'bad'"}, 'unknown_key': 'dropped',
}


class TestException:
    def expected_value(self):
        frame = dict(FRAME)
        del frame['unknown_key']
        return {'type': 'ValueError', 'value': 'bad', 'module': None, 'mechanism': None,
                'stacktrace': {'frames': [frame]}}

    @pytest.mark.parametrize('key, shape', [
        ('exception', lambda v: {'values': [v]}),
        ('exception', lambda v: [v]),
        ('exception', lambda v: v),
        ('sentry.interfaces.Exception', lambda v: {'values': [v]}),
    ])
    def test_shapes(self, key, shape):
        value = {'type': 'ValueError', 'value': 'bad', 'stacktrace': {'frames': [FRAME]}}
        event = normalize({key: shape(value)})
        assert event['exception'] == {'values': [self.expected_value()]}
        assert event['errors'] == []

    def test_type_hidden_in_value(self):
        event = normalize({'exception': [{'value': 'ValueError: bad input'}]})
        assert event['exception']['values'][0]['type'] == 'ValueError'
        assert event['exception']['values'][0]['value'] == 'bad input'

    def test_non_string_value(self):
        values = normalize({'exception': [{'type': 'E', 'value': 42}, {'type': 'F', 'value': {'a': 1}}]})
        assert [v['value'] for v in values['exception']['values']] == ['42', '{"a":1}']

    def test_values_without_type_or_value_are_dropped(self):
        event = normalize({'exception': {'values': [{'module': 'x'}, {'type': 'KeyError'}, 'junk']}})
        assert [v['type'] for v in event['exception']['values']] == ['KeyError']
        assert error_names(event) == {'exception.values.0', 'exception.values.2'}

    def test_chained_exceptions_keep_their_order(self):
        event = normalize({'exception': {'values': [{'type': 'KeyError'}, {'type': 'RuntimeError'}]}})
        assert [v['type'] for v in event['exception']['values']] == ['KeyError', 'RuntimeError']

    def test_abs_path_and_filename_fill_each_other(self):
        frames = normalize({'stacktrace': {'frames': [{'abs_path': '/a.py'}, {'filename': 'b.py'}]}})
        assert frames['stacktrace']['frames'] == [{'filename': '/a.py', 'abs_path': '/a.py'},
                                                  {'filename': 'b.py', 'abs_path': 'b.py'}]

    @pytest.mark.parametrize('key', ['stacktrace', 'sentry.interfaces.Stacktrace'])
    def test_top_level_stacktrace(self, key):
        event = normalize({key: {'frames': [FRAME]}, 'message': 'm'})
        assert event['stacktrace']['frames'][0]['function'] == 'index'

    def test_bad_frame_fields_are_dropped(self):
        frame = {'function': 'f', 'lineno': 'twelve', 'colno': True, 'in_app': 'yes', 'vars': 'x',
                 'pre_context': 'line', 'module': {'a': 1}, 'context_line': 7}
        event = normalize({'stacktrace': {'frames': [frame, 'junk']}})
        assert event['stacktrace']['frames'] == [{'function': 'f', 'context_line': '7'}]
        assert error_names(event) == {
            'stacktrace.frames.0.lineno', 'stacktrace.frames.0.colno', 'stacktrace.frames.0.in_app',
            'stacktrace.frames.0.vars', 'stacktrace.frames.0.pre_context', 'stacktrace.frames.0.module',
            'stacktrace.frames.1',
        }

    def test_long_stacks_keep_both_ends(self):
        frames = [{'function': f'f{i}', 'lineno': i} for i in range(1000)]
        stack = normalize({'stacktrace': {'frames': frames}})['stacktrace']
        assert len(stack['frames']) == 250
        assert stack['frames'][0]['function'] == 'f0'
        assert stack['frames'][-1]['function'] == 'f999'
        assert stack['frames_omitted'] == [125, 875]

    def test_context_lines_are_bounded(self):
        frame = {'function': 'f', 'pre_context': [str(i) for i in range(500)], 'post_context': [None, 'x']}
        frame = normalize({'stacktrace': {'frames': [frame]}})['stacktrace']['frames'][0]
        assert frame['pre_context'][-1] == '499' and len(frame['pre_context']) == 50
        assert frame['post_context'] == ['', 'x']

    def test_threads(self):
        raw = {'threads': {'values': [{'id': 1, 'name': 'main', 'crashed': True,
                                       'stacktrace': {'frames': [FRAME]}}, {'id': 'w2'}]}}
        threads = normalize(raw)['threads']['values']
        assert threads[0]['crashed'] is True and threads[0]['stacktrace']['frames'][0]['lineno'] == 12
        assert threads[1] == {'id': 'w2', 'name': None, 'crashed': False, 'current': False, 'stacktrace': None}


class TestTags:
    def test_object(self):
        assert normalize({'tags': {'a': 'b', 'c': 'd'}})['tags'][:2] == [['a', 'b'], ['c', 'd']]

    def test_pairs(self):
        assert normalize({'tags': [['a', 'b'], ('c', 'd')]})['tags'][:2] == [['a', 'b'], ['c', 'd']]

    def test_scalar_values_are_stringified(self):
        assert normalize({'tags': {'n': 1, 'f': 1.5, 'b': True}})['tags'][:3] == [['n', '1'], ['f', '1.5'],
                                                                                  ['b', 'true']]

    def test_invalid_tags_are_dropped(self):
        raw = {'tags': [
            ['k' * 33, 'v'], ['ok', 'v' * 201], ['bad key', 'v'], ['nl', 'a\nb'], ['obj', {'a': 1}],
            ['none', None], ['empty', ''], ['', 'v'], 'k:v', ['a', 'b', 'c'], [1, 'v'],
            ['k' * 32, 'v' * 200], ['x.y:z-1_2', 'fine'],
        ]}
        event = normalize(raw)
        assert event['tags'][:2] == [['k' * 32, 'v' * 200], ['x.y:z-1_2', 'fine']]
        assert error_names(event) == {'tags'}

    def test_first_occurrence_wins(self):
        assert normalize({'tags': [['a', '1'], ['a', '2']]})['tags'][0] == ['a', '1']

    def test_explicit_tags_win_over_derived(self):
        event = normalize({'tags': {'level': 'custom', 'release': 'r-tag'}, 'level': 'info', 'release': '1.0'})
        assert event['tags'] == [['level', 'custom'], ['release', 'r-tag']]

    def test_all_derived_tags(self):
        event = normalize({
            'level': 'info', 'environment': 'prod', 'release': 'r1', 'dist': 'd1', 'server_name': 'web-1',
            'logger': 'django.request', 'transaction': '/api/items/',
            'user': {'email': 'a@b.c', 'ip_address': '10.0.0.1'},
        })
        assert event['tags'] == [
            ['level', 'info'], ['environment', 'prod'], ['release', 'r1'], ['dist', 'd1'],
            ['server_name', 'web-1'], ['logger', 'django.request'], ['transaction', '/api/items/'],
            ['user', 'email:a@b.c'],
        ]

    @pytest.mark.parametrize('user, tag', [
        ({'id': 1, 'email': 'e@x', 'username': 'u', 'ip_address': '::1'}, 'id:1'),
        ({'email': 'e@x', 'username': 'u', 'ip_address': '::1'}, 'email:e@x'),
        ({'username': 'u', 'ip_address': '::1'}, 'username:u'),
        ({'ip_address': '::1'}, 'ip:::1'),
        ({'name': 'Jane'}, None),
    ])
    def test_user_tag_preference(self, user, tag):
        assert tags(normalize({'user': user})).get('user') == tag

    def test_derived_values_that_are_not_valid_tags_are_skipped(self):
        event = normalize({'transaction': 'x' * 300})
        assert 'transaction' not in tags(event)
        assert event['transaction'] == 'x' * 300

    def test_wrong_type(self):
        event = normalize({'tags': 'a:b'})
        assert event['tags'] == [['level', 'error']]
        assert error_names(event) == {'tags'}


class TestInterfaces:
    def test_user_alias_and_extra_keys(self):
        event = normalize({'sentry.interfaces.User': {'id': 42, 'name': 'Jane', 'geo': {'city': 'Oslo'},
                                                      'data': {'plan': 'pro'}}})
        assert event['user'] == {'id': '42', 'name': 'Jane', 'data': {'plan': 'pro', 'geo': {'city': 'Oslo'}}}

    def test_user_invalid_ip(self):
        event = normalize({'user': {'id': '1', 'ip_address': 'not-an-ip'}})
        assert event['user'] == {'id': '1'}
        assert error_names(event) == {'user.ip_address'}

    def test_auto_ip_without_client_address_is_dropped(self):
        assert normalize({'user': {'ip_address': '{{auto}}'}})['user'] is None

    @pytest.mark.parametrize('key', ['request', 'sentry.interfaces.Http'])
    def test_request(self, key):
        event = normalize({key: {
            'url': 'https://example.com/search?q=1#top', 'method': 'post',
            'headers': {'User-Agent': 'curl', 'X-Count': 3}, 'cookies': 'a=1; b=2',
            'data': {'field': 'value'}, 'env': {'REMOTE_ADDR': '10.0.0.1'},
        }})
        assert event['request'] == {
            'url': 'https://example.com/search', 'method': 'POST', 'query_string': 'q=1', 'fragment': 'top',
            'data': {'field': 'value'}, 'cookies': [['a', '1'], ['b', '2']],
            'headers': [['User-Agent', 'curl'], ['X-Count', '3']], 'env': {'REMOTE_ADDR': '10.0.0.1'},
        }

    def test_request_query_string_as_pairs(self):
        request = normalize({'request': {'url': 'https://x/', 'query_string': [['a', '1'], ['b', 'x y']],
                                         'headers': [['Host', 'x']]}})['request']
        assert request['query_string'] == 'a=1&b=x+y'
        assert request['headers'] == [['Host', 'x']]

    def test_breadcrumbs_as_a_list_keep_the_newest_100(self):
        crumbs = [{'message': f'm{i}', 'timestamp': '2026-11-27T07:29:38Z'} for i in range(150)]
        values = normalize({'breadcrumbs': crumbs})['breadcrumbs']['values']
        assert len(values) == 100
        assert values[0]['message'] == 'm50' and values[-1]['message'] == 'm149'
        assert values[0]['timestamp'] == 1795764578.0 and values[0]['type'] == 'default'

    def test_contexts_get_a_type_and_bad_entries_are_dropped(self):
        event = normalize({'contexts': {'os': {'name': 'Linux'}, 'bad': 'string', 'trace': {'type': 'trace'}}})
        assert event['contexts'] == {'os': {'name': 'Linux', 'type': 'os'}, 'trace': {'type': 'trace'}}
        assert error_names(event) == {'contexts.bad'}

    @pytest.mark.parametrize('raw, platform', [
        (None, 'other'), ('python', 'python'), ('JavaScript', 'javascript'), ('cobol', 'other'), (5, 'other'),
    ])
    def test_platform(self, raw, platform):
        assert normalize({'platform': raw})['platform'] == platform

    def test_modules_and_fingerprint(self):
        event = normalize({'modules': {'django': '4.2', 'n': 1, 'bad': ['x']},
                           'fingerprint': ['{{ default }}', 'x', 3, None]})
        assert event['modules'] == {'django': '4.2', 'n': '1'}
        assert event['fingerprint'] == ['{{ default }}', 'x', '3']
        assert error_names(event) == {'modules', 'fingerprint'}

    def test_scalar_fields(self):
        event = normalize({'release': 123, 'dist': ' d ', 'environment': '', 'logger': 'root',
                           'culprit': 'app in f', 'transaction': '/x', 'checksum': 'abc', 'server_name': 'vm'})
        assert (event['release'], event['dist'], event['environment'], event['logger']) == ('123', 'd', None, 'root')
        assert (event['culprit'], event['transaction'], event['checksum']) == ('app in f', '/x', 'abc')


WRONG_TYPES = {
    'event_id': ['x'], 'timestamp': {'t': 1}, 'level': [40], 'platform': 7, 'logger': {'a': 1},
    'server_name': ['vm'], 'release': {'v': 1}, 'dist': True, 'environment': [], 'transaction': {},
    'culprit': False, 'logentry': 12, 'sentry.interfaces.Message': 'text', 'message': ['m'],
    'exception': 'boom', 'stacktrace': 5, 'threads': 'main', 'request': 'GET /', 'user': 'jane',
    'breadcrumbs': 3, 'contexts': ['os'], 'sdk': 'python', 'extra': [1, 2], 'modules': 'django',
    'fingerprint': 'fp', 'checksum': {'a': 1}, 'tags': 17,
}


class TestRobustness:
    @pytest.mark.parametrize('field', sorted(WRONG_TYPES))
    def test_wrong_type_is_dropped_and_recorded(self, field):
        event = normalize({field: WRONG_TYPES[field], 'message': 'still stored'} if field != 'message'
                          else {field: WRONG_TYPES[field]})
        assert {'type': 'invalid_data', 'name': field} in event['errors']
        orjson.dumps(event)

    def test_every_field_wrong_at_once(self):
        event = normalize(WRONG_TYPES)
        assert tuple(event) == EVENT_KEYS
        assert event['tags'] == [['level', 'error']]
        assert event['timestamp'] == NOW
        assert len(event['errors']) == len(WRONG_TYPES)
        orjson.dumps(event)

    def test_not_a_dict(self):
        event = normalize(['not', 'an', 'event'])
        assert event['errors'] == [{'type': 'invalid_data', 'name': 'event'}]
        assert tuple(event) == EVENT_KEYS

    def test_ten_megabyte_strings_are_trimmed(self):
        huge = 'x' * (10 * MB)
        event = normalize({'message': huge, 'extra': {'blob': huge}, 'tags': {'t': huge}, 'release': huge,
                           'exception': [{'type': 'E', 'value': huge, 'stacktrace': {'frames': [
                               {'function': 'f', 'context_line': huge, 'vars': {'v': huge}}]}}]})
        assert len(event['logentry']['message']) == 8192
        assert event['logentry']['message'].endswith('...')
        assert len(event['extra']['blob']) == 8192
        assert len(event['release']) == 8192
        assert len(event['exception']['values'][0]['value']) == 8192
        frame = event['exception']['values'][0]['stacktrace']['frames'][0]
        assert len(frame['context_line']) == 8192 and len(frame['vars']['v']) == 8192
        assert 't' not in tags(event)
        assert len(orjson.dumps(event)) < 100_000

    def test_custom_max_string(self):
        assert normalize({'message': 'abcdefghijklmnopqrstuvwxyz'}, max_string=20)['message'] == \
            'abcdefghijklmnopq...'

    def test_big_containers_are_bounded(self):
        event = normalize({'extra': {f'k{i}': list(range(1000)) for i in range(1000)},
                           'tags': {f't{i}': 'v' for i in range(1000)}})
        assert len(event['extra']) == 256
        assert len(event['extra']['k0']) == 256
        assert len([t for t in event['tags'] if t[0].startswith('t')]) == 200

    def test_deep_free_form_data_is_flattened(self):
        deep = {'a': 1}
        for _ in range(100):
            deep = {'d': deep}
        event = normalize({'extra': {'deep': deep}})
        node = event['extra']['deep']
        for _ in range(6):
            node = node['d']
        assert isinstance(node['d'], str) and node['d'].startswith('{"d":')
        orjson.dumps(event)

    def test_nul_characters_are_removed(self):
        event = normalize({'message': 'a\x00b', 'extra': {'k\x00': 'v\x00'}})
        assert event['message'] == 'ab'
        assert event['extra'] == {'k': 'v'}

    def test_input_is_not_modified(self):
        raw = copy.deepcopy(SENTRY_CLI_FULL)
        raw['exception'] = {'values': [{'value': 'ValueError: x', 'stacktrace': {'frames': [dict(FRAME)]}}]}
        before = copy.deepcopy(raw)
        normalize(raw)
        assert raw == before

    def test_output_is_deterministic_and_serialisable(self):
        raw = {**SENTRY_CLI_FULL, **RAVEN_MESSAGE, 'exception': [{'type': 'E', 'stacktrace': {'frames': [FRAME]}}],
               'request': {'url': 'http://x/?a=1', 'headers': {'A': 'b'}}}
        first, second = normalize(raw), normalize(copy.deepcopy(raw))
        assert orjson.dumps(first) == orjson.dumps(second)
        assert tuple(first) == EVENT_KEYS
        assert orjson.loads(orjson.dumps(first)) == first

    def test_normalising_twice_changes_nothing(self):
        frames = [dict(FRAME, lineno=i) for i in range(300)]
        raw = {**SENTRY_CLI_FULL, 'exception': [{'type': 'E', 'value': 'v', 'stacktrace': {'frames': frames}}],
               'request': {'url': 'http://x/p?a=1#f', 'headers': {'A': 'b'}, 'cookies': 'c=1'},
               'breadcrumbs': RAVEN_MESSAGE['breadcrumbs'], 'contexts': {'os': {'name': 'Linux'}},
               'threads': [{'id': 1, 'stacktrace': {'frames': [FRAME]}}]}
        once = normalize(raw, client_ip='10.1.2.3')
        twice = normalize(once, client_ip='10.1.2.3')
        assert twice == once

    def test_huge_integers_from_python_callers(self):
        event = normalize({'extra': {'big': 2 ** 100, 'nan': float('nan')}})
        assert event['extra'] == {'big': str(2 ** 100), 'nan': None}
        orjson.dumps(event)
