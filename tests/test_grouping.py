import hashlib

import pytest

from sentrail.domain.grouping import default_components
from sentrail.domain.grouping import group_hashes
from sentrail.domain.grouping import group_summary
from sentrail.domain.ingest_normalize import normalize_event

EMPTY_HASH = hashlib.md5(b'').hexdigest()


def md5(*parts):
    return hashlib.md5(''.join(parts).encode()).hexdigest()


def event(**raw):
    return normalize_event(raw, received_at=1795764600.0, project_id=1)


def frame(module, function, context_line=None, lineno=1, in_app=None, **extra):
    result = {'module': module, 'function': function, 'lineno': lineno, **extra}
    if context_line is not None:
        result['context_line'] = context_line
    if in_app is not None:
        result['in_app'] = in_app
    return result


def error(exc_type='ValueError', value='bad input', frames=None, **raw):
    exception = {'type': exc_type, 'value': value}
    if frames is not None:
        exception['stacktrace'] = {'frames': frames}
    return event(exception={'values': [exception]}, **raw)


def django_frames(library_line=10, app_line=20):
    return [
        frame('django.core.handlers', 'inner', lineno=library_line, in_app=False),
        frame('django.views', 'view', lineno=library_line + 5, in_app=False),
        frame('shop.views', 'checkout', '    total = cart.total()', lineno=app_line, in_app=True),
    ]


class TestDefaultGrouping:
    def test_in_app_frames_then_type_are_the_primary_components(self):
        components = default_components(error(frames=django_frames()))
        assert components[0] == ['shop.views', 'checkout', 'total = cart.total()', 'ValueError']
        assert components[1] == ['django.core.handlers', 'inner', 'django.views', 'view',
                                 'shop.views', 'checkout', 'total = cart.total()', 'ValueError']
        assert group_hashes(error(frames=django_frames()))[0] == md5(*components[0])

    def test_hash_is_32_hex(self):
        (primary, *rest) = group_hashes(error(frames=django_frames()))
        assert len(primary) == 32 and int(primary, 16) >= 0

    def test_different_line_numbers_in_library_frames_group_together(self):
        first = group_hashes(error(frames=django_frames(library_line=10)))
        second = group_hashes(error(frames=django_frames(library_line=99)))
        assert first[0] == second[0]

    def test_a_moved_app_line_with_the_same_source_groups_together(self):
        assert group_hashes(error(frames=django_frames(app_line=20)))[0] == \
            group_hashes(error(frames=django_frames(app_line=42)))[0]

    def test_different_values_with_a_stack_group_together(self):
        assert group_hashes(error(value='bad input 1', frames=django_frames()))[0] == \
            group_hashes(error(value='bad input 2', frames=django_frames()))[0]

    def test_different_types_do_not_group_together(self):
        assert set(group_hashes(error('ValueError', frames=django_frames()))).isdisjoint(
            group_hashes(error('KeyError', frames=django_frames())))

    def test_different_app_code_does_not_group_together(self):
        other = django_frames()
        other[-1] = frame('shop.views', 'refund', '    amount = order.paid()', in_app=True)
        assert set(group_hashes(error(frames=django_frames()))).isdisjoint(group_hashes(error(frames=other)))

    def test_without_in_app_frames_all_frames_are_used_once(self):
        frames = [frame('a', 'f', 'x = 1'), frame('b', 'g', 'y = 2')]
        hashes = group_hashes(error(frames=frames))
        assert hashes == [md5('a', 'f', 'x = 1', 'b', 'g', 'y = 2', 'ValueError')]

    def test_secondary_hash_matches_an_event_without_in_app_marks(self):
        marked = group_hashes(error(frames=django_frames()))
        unmarked_frames = [{k: v for k, v in f.items() if k != 'in_app'} for f in django_frames()]
        assert group_hashes(error(frames=unmarked_frames)) == [marked[1]]

    def test_line_number_is_used_only_without_function_or_source(self):
        with_function = group_hashes(error(frames=[frame('m', 'f', lineno=1)]))
        assert with_function == group_hashes(error(frames=[frame('m', 'f', lineno=2)]))
        bare = [{'filename': 'app.c', 'lineno': 7}]
        assert default_components(error(frames=bare)) == [['app.c', '7', 'ValueError']]

    def test_long_source_lines_are_ignored(self):
        long_line = 'x = ' + '1' * 200
        assert default_components(error(frames=[frame('m', 'f', long_line)])) == [['m', 'f', 'ValueError']]

    def test_filename_when_no_module_but_never_a_url(self):
        frames = [{'filename': 'src/app.js', 'function': 'a'}, {'filename': 'https://cdn.example.com/x.js',
                                                               'function': 'b'}]
        assert default_components(error(frames=frames)) == [['src/app.js', 'a', 'b', 'ValueError']]

    def test_native_code_frames_are_skipped(self):
        frames = [{'filename': '[native code]', 'function': 'forEach'}, {'filename': 'a.js', 'function': 'f'}]
        assert default_components(error(frames=frames)) == [['a.js', 'f', 'ValueError']]

    def test_exception_without_stacktrace_uses_type_and_value(self):
        assert group_hashes(error('KeyError', "'id'")) == [md5('KeyError', "'id'")]
        assert group_hashes(error('KeyError', "'id'")) != group_hashes(error('KeyError', "'name'"))

    def test_chained_exceptions_contribute_in_order(self):
        values = [
            {'type': 'KeyError', 'stacktrace': {'frames': [frame('a', 'f', 'x')]}},
            {'type': 'RuntimeError', 'value': 'wrapped', 'stacktrace': {'frames': [frame('b', 'g', 'y')]}},
        ]
        assert default_components(event(exception={'values': values})) == [
            ['a', 'f', 'x', 'KeyError', 'b', 'g', 'y', 'RuntimeError']]

    def test_top_level_stacktrace(self):
        raw = {'stacktrace': {'frames': [frame('m', 'f', 'call()')]}, 'message': 'ignored for grouping'}
        assert group_hashes(event(**raw)) == [md5('m', 'f', 'call()')]

    def test_crashed_thread(self):
        threads = [{'id': 1, 'stacktrace': {'frames': [frame('idle', 'wait')]}},
                   {'id': 2, 'crashed': True, 'stacktrace': {'frames': [frame('work', 'run')]}}]
        assert default_components(event(threads={'values': threads}, message='m')) == [['work', 'run']]

    def test_message_template_groups_different_params_together(self):
        first = event(logentry={'message': 'user %s not found', 'params': ['alice']})
        second = event(logentry={'message': 'user %s not found', 'params': ['bob']})
        assert first['message'] != second['message']
        assert group_hashes(first) == group_hashes(second) == [md5('user %s not found')]

    def test_different_templates_do_not_group_together(self):
        assert group_hashes(event(message='disk full')) != group_hashes(event(message='disk empty'))

    def test_raven_message_interface(self):
        raw = {'sentry.interfaces.Message': {'message': 'hello %s', 'params': ["'x'"]}, 'message': 'hello %s'}
        assert group_hashes(event(**raw)) == [md5('hello %s')]

    def test_nothing_usable(self):
        assert group_hashes(event()) == [EMPTY_HASH]
        assert group_hashes({}) == [EMPTY_HASH]


class TestFingerprint:
    def test_literal_fingerprint_wins(self):
        raw = {'fingerprint': ['database-unavailable', 'eu'], 'checksum': 'a' * 32}
        assert group_hashes(error(frames=django_frames(), **raw)) == [md5('database-unavailable', 'eu')]

    def test_sentry_cli_fingerprint(self):
        assert group_hashes(event(message='hello', fingerprint=['fp1'])) == [md5('fp1')]

    @pytest.mark.parametrize('placeholder', ['{{ default }}', '{{default}}', '{{  default }}'])
    def test_default_placeholder_is_expanded_per_variant(self, placeholder):
        raw_event = error(frames=django_frames(), fingerprint=[placeholder, 'tenant-a'])
        variants = default_components(raw_event)
        assert group_hashes(raw_event) == [md5(*variant, 'tenant-a') for variant in variants]
        assert len(group_hashes(raw_event)) == 2

    def test_default_placeholder_separates_what_default_grouping_joins(self):
        a = group_hashes(event(message='boom', fingerprint=['{{ default }}', 'a']))
        b = group_hashes(event(message='boom', fingerprint=['{{ default }}', 'b']))
        assert a == [md5('boom', 'a')] and a != b

    def test_only_the_placeholder_is_the_default(self):
        assert group_hashes(event(message='boom', fingerprint=['{{ default }}'])) == group_hashes(event(message='boom'))

    def test_checksum(self):
        assert group_hashes(event(message='x', checksum='ABCDEF0123456789ABCDEF0123456789')) == [
            'abcdef0123456789abcdef0123456789']
        assert group_hashes(event(message='x', checksum='release-42')) == [md5('release-42')]


class TestSummary:
    def test_error_title_and_metadata(self):
        summary = group_summary(error('ZeroDivisionError', 'division by zero', frames=django_frames()))
        assert summary == {
            'type': 'error', 'title': 'ZeroDivisionError: division by zero', 'culprit': 'shop.views in checkout',
            'metadata': {'type': 'ZeroDivisionError', 'value': 'division by zero'},
        }

    def test_error_title_uses_the_first_line_truncated_to_100(self):
        value = 'x' * 150 + '\nsecond line'
        summary = group_summary(error('ValueError', value))
        assert summary['title'] == 'ValueError: ' + 'x' * 97 + '...'
        assert summary['metadata']['value'] == value

    def test_error_without_value(self):
        assert group_summary(error('KeyboardInterrupt', None))['title'] == 'KeyboardInterrupt'

    def test_error_without_type(self):
        summary = group_summary(event(exception=[{'value': 'something broke'}]))
        assert summary['title'] == 'Error: something broke'
        assert summary['metadata'] == {'type': 'Error', 'value': 'something broke'}

    def test_last_exception_names_the_issue(self):
        values = [{'type': 'KeyError', 'value': "'id'"}, {'type': 'RuntimeError', 'value': 'lookup failed'}]
        assert group_summary(event(exception={'values': values}))['title'] == 'RuntimeError: lookup failed'

    def test_default_title_is_the_formatted_message(self):
        summary = group_summary(event(logentry={'message': 'user %s\nmissing', 'params': ['bob']}))
        assert summary == {'type': 'default', 'title': 'user bob', 'culprit': '', 'metadata': {'title': 'user bob'}}

    def test_default_title_truncated(self):
        assert group_summary(event(message='m' * 300))['title'] == 'm' * 97 + '...'

    def test_unlabeled(self):
        summary = group_summary(event())
        assert summary['title'] == '<unlabeled event>'
        assert summary['type'] == 'default'
        assert summary['metadata'] == {'title': '<unlabeled event>'}

    def test_culprit_prefers_transaction_then_culprit(self):
        assert group_summary(error(frames=django_frames(), transaction='/checkout/'))['culprit'] == '/checkout/'
        assert group_summary(error(frames=django_frames(), culprit='legacy.culprit'))['culprit'] == 'legacy.culprit'

    def test_culprit_from_the_newest_in_app_frame(self):
        frames = [frame('app.a', 'first', in_app=True), frame('app.b', 'second', in_app=True),
                  frame('lib.c', 'third', in_app=False)]
        assert group_summary(error(frames=frames))['culprit'] == 'app.b in second'

    def test_culprit_falls_back_to_the_newest_frame(self):
        frames = [frame('lib.a', 'first'), {'filename': 'lib/b.py', 'function': None}]
        assert group_summary(error(frames=frames))['culprit'] == 'lib/b.py in ?'

    def test_culprit_uses_the_last_exception_with_a_stack(self):
        values = [{'type': 'A', 'stacktrace': {'frames': [frame('first', 'f')]}},
                  {'type': 'B', 'stacktrace': {'frames': [frame('second', 'g')]}},
                  {'type': 'C'}]
        assert group_summary(event(exception={'values': values}))['culprit'] == 'second in g'

    def test_culprit_from_top_level_stacktrace_or_request(self):
        raw = {'message': 'm', 'stacktrace': {'frames': [frame('mod', 'fn')]}}
        assert group_summary(event(**raw))['culprit'] == 'mod in fn'
        assert group_summary(event(message='m', request={'url': 'https://x/y?z=1'}))['culprit'] == 'https://x/y'

    def test_culprit_is_bounded(self):
        assert len(group_summary(event(message='m', transaction='t' * 500))['culprit']) == 200

    def test_raven_exception_event(self):
        raw = {'level': 40, 'message': 'ZeroDivisionError: division by zero', 'exception': {'values': [{
            'type': 'ZeroDivisionError', 'value': 'division by zero', 'module': 'builtins',
            'stacktrace': {'frames': [{'filename': 'sdk/raven_test.py', 'module': '__main__', 'function': '<module>',
                                       'lineno': 10, 'context_line': '    1 / 0'}]}}]}}
        normalized = event(**raw)
        assert group_summary(normalized) == {
            'type': 'error', 'title': 'ZeroDivisionError: division by zero', 'culprit': '__main__ in <module>',
            'metadata': {'type': 'ZeroDivisionError', 'value': 'division by zero'},
        }
        assert group_hashes(normalized) == [md5('__main__', '<module>', '1 / 0', 'ZeroDivisionError')]

    def test_tolerates_partial_and_odd_input(self):
        odd = {'exception': {'values': ['junk', {'type': 5, 'value': ['x'], 'stacktrace': {'frames': 'no'}}]},
               'logentry': 'x', 'threads': {'values': 'no'}, 'stacktrace': {'frames': [None, 3]}}
        assert group_summary(odd)['title'] == 'Error'
        assert group_hashes(odd) == [EMPTY_HASH]
