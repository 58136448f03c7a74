import base64
import gzip
import io
import sys
import time
import uuid
import zlib

import brotli
import orjson
import pytest

from sentrail.domain.ingest_payload import PayloadError
from sentrail.domain.ingest_payload import PayloadTooLarge
from sentrail.domain.ingest_payload import decode_body
from sentrail.domain.ingest_payload import parse_auth
from sentrail.domain.ingest_payload import parse_envelope
from sentrail.domain.ingest_payload import parse_json

MB = 1024 * 1024
EVENT = {'event_id': 'cbda82bf037648e0aecc6ba284a1175c', 'message': 'hello world', 'level': 'info'}
EVENT_BYTES = orjson.dumps(EVENT)


def envelope(header, *items, trailing_newline=True):
    """Serialise an envelope the way sentry-sdk and sentry-cli do: every item with its length."""
    lines = [orjson.dumps(header)]
    for item_header, payload in items:
        lines.append(orjson.dumps({**item_header, 'length': len(payload)}))
        lines.append(payload)
    body = b'\n'.join(lines)
    return body + b'\n' if trailing_newline else body


def raw_deflate(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


class TestDecodeBody:
    def test_identity_json_is_returned_unchanged(self):
        assert decode_body(EVENT_BYTES, None, max_size=MB) == EVENT_BYTES
        assert decode_body(EVENT_BYTES, 'identity', max_size=MB) == EVENT_BYTES
        assert decode_body(b' \n\t' + EVENT_BYTES, '', max_size=MB) == b' \n\t' + EVENT_BYTES

    def test_identity_envelope_is_returned_unchanged(self):
        body = envelope({'event_id': str(uuid.uuid4())}, ({'type': 'event'}, EVENT_BYTES))
        assert decode_body(body, None, max_size=MB) == body

    def test_gzip_level_9_as_sentry_sdk_sends(self):
        body = envelope({}, ({'type': 'event', 'content_type': 'application/json'}, EVENT_BYTES))
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode='w', compresslevel=9) as stream:
            stream.write(body)
        assert decode_body(buffer.getvalue(), 'gzip', max_size=MB) == body

    def test_encoding_names_are_case_insensitive(self):
        assert decode_body(gzip.compress(EVENT_BYTES), ' GZIP ', max_size=MB) == EVENT_BYTES
        assert decode_body(gzip.compress(EVENT_BYTES), 'x-gzip', max_size=MB) == EVENT_BYTES

    def test_gzip_with_several_members(self):
        body = gzip.compress(b'{"a":') + gzip.compress(b'1}')
        assert decode_body(body, 'gzip', max_size=MB) == b'{"a":1}'

    def test_brotli_quality_4_as_sentry_sdk_sends(self):
        assert decode_body(brotli.compress(EVENT_BYTES, quality=4), 'br', max_size=MB) == EVENT_BYTES

    def test_deflate_as_raven_sends_it_is_zlib_wrapped(self):
        raven = pytest.importorskip('raven')
        body = raven.Client.encode(None, EVENT)
        assert body[:2] == b'\x78\x9c'
        assert orjson.loads(decode_body(body, 'deflate', max_size=MB)) == EVENT

    def test_raw_rfc1951_deflate(self):
        assert decode_body(raw_deflate(EVENT_BYTES), 'deflate', max_size=MB) == EVENT_BYTES

    def test_stacked_encodings_are_undone_in_reverse(self):
        body = brotli.compress(gzip.compress(EVENT_BYTES))
        assert decode_body(body, 'gzip, br', max_size=MB) == EVENT_BYTES

    def test_legacy_base64_zlib(self):
        body = base64.b64encode(zlib.compress(EVENT_BYTES))
        assert decode_body(body, None, max_size=MB) == EVENT_BYTES

    def test_legacy_base64_with_line_breaks(self):
        body = base64.encodebytes(zlib.compress(EVENT_BYTES * 20))
        assert b'\n' in body
        assert decode_body(body, None, max_size=MB) == EVENT_BYTES * 20

    def test_legacy_plain_base64(self):
        assert decode_body(base64.b64encode(EVENT_BYTES), None, max_size=MB) == EVENT_BYTES

    def test_unlabelled_gzip_and_zlib_are_sniffed(self):
        assert decode_body(gzip.compress(EVENT_BYTES), None, max_size=MB) == EVENT_BYTES
        assert decode_body(zlib.compress(EVENT_BYTES), None, max_size=MB) == EVENT_BYTES

    def test_base64_that_starts_like_a_zlib_header_still_decodes(self):
        # 'HK' passes the RFC 1950 header check but is ordinary base64 text.
        payload = base64.b64decode(b'HKxx') + EVENT_BYTES
        body = base64.b64encode(payload)
        assert body.startswith(b'HK')
        assert decode_body(body, None, max_size=MB) == payload

    def test_unlabelled_garbage_is_left_for_the_json_parser(self):
        assert decode_body(b'not json at all!', None, max_size=MB) == b'not json at all!'
        with pytest.raises(PayloadError):
            parse_json(decode_body(b'not json at all!', None, max_size=MB))

    def test_empty_body(self):
        assert decode_body(b'', None, max_size=MB) == b''

    def test_unknown_encoding(self):
        with pytest.raises(PayloadError, match='Unsupported Content-Encoding: zstd'):
            decode_body(b'\x28\xb5\x2f\xfd', 'zstd', max_size=MB)

    @pytest.mark.parametrize('encoding, compress', [
        ('gzip', gzip.compress),
        ('deflate', zlib.compress),
        ('deflate', raw_deflate),
        ('br', brotli.compress),
    ])
    def test_truncated_data(self, encoding, compress):
        body = compress(EVENT_BYTES * 50)
        with pytest.raises(PayloadError) as info:
            decode_body(body[:len(body) // 2], encoding, max_size=MB)
        assert not isinstance(info.value, PayloadTooLarge)
        assert 'Invalid' in info.value.message

    @pytest.mark.parametrize('encoding', ['gzip', 'deflate', 'br'])
    def test_garbage(self, encoding):
        with pytest.raises(PayloadError):
            decode_body(b'\xff\xfe this is not compressed \x00\x01' * 3, encoding, max_size=MB)

    def test_gzip_with_trailing_garbage(self):
        with pytest.raises(PayloadError, match='trailing garbage'):
            decode_body(gzip.compress(EVENT_BYTES) + b'junk', 'gzip', max_size=MB)

    def test_gzip_with_zero_padding(self):
        assert decode_body(gzip.compress(EVENT_BYTES) + b'\x00' * 8, 'gzip', max_size=MB) == EVENT_BYTES

    @pytest.mark.parametrize('encoding, compress', [
        ('gzip', lambda data: gzip.compress(data, compresslevel=9)),
        ('deflate', zlib.compress),
        ('deflate', raw_deflate),
        ('br', lambda data: brotli.compress(data, quality=5)),
        (None, zlib.compress),
        (None, lambda data: base64.b64encode(zlib.compress(data))),
    ])
    def test_decompression_bomb_is_stopped_early(self, encoding, compress):
        bomb = compress(b'\x00' * (50 * MB))
        assert len(bomb) < MB
        started = time.perf_counter()
        with pytest.raises(PayloadTooLarge):
            decode_body(bomb, encoding, max_size=MB)
        assert time.perf_counter() - started < 1.0

    def test_output_exactly_at_the_limit_is_allowed(self):
        data = b'{' + b' ' * (MB - 2) + b'}'
        assert decode_body(gzip.compress(data), 'gzip', max_size=MB) == data
        with pytest.raises(PayloadTooLarge):
            decode_body(gzip.compress(data + b' '), 'gzip', max_size=MB)

    def test_body_larger_than_the_limit(self):
        with pytest.raises(PayloadTooLarge):
            decode_body(b'{' + b' ' * MB + b'}', None, max_size=MB)

    def test_too_large_is_a_payload_error(self):
        assert issubclass(PayloadTooLarge, PayloadError)
        assert issubclass(PayloadError, ValueError)
        assert PayloadError('boom').message == 'boom'


class TestParseJson:
    def test_object(self):
        assert parse_json(EVENT_BYTES) == EVENT

    def test_accepts_bytearray_and_memoryview(self):
        assert parse_json(bytearray(EVENT_BYTES)) == EVENT
        assert parse_json(memoryview(EVENT_BYTES)) == EVENT

    def test_duplicate_keys_last_wins(self):
        assert parse_json(b'{"level": "info", "level": "fatal"}') == {'level': 'fatal'}

    @pytest.mark.parametrize('body', [
        b'{"message": "\xff\xfe"}',
        b'{"message": "\xed\xa0\x80"}',  # an encoded surrogate
        b'{"message": "\\ud800"}',  # a lone surrogate escape
        b'\xef\xbb\xbf{}',
    ])
    def test_invalid_text(self, body):
        with pytest.raises(PayloadError):
            parse_json(body)

    @pytest.mark.parametrize('body', [b'', b'{', b'{"a": }', b'{"a": NaN}', b'{"a": 1} {"b": 2}', b'nul'])
    def test_invalid_json(self, body):
        with pytest.raises(PayloadError, match='Invalid JSON'):
            parse_json(body)

    @pytest.mark.parametrize('body', [b'[]', b'"text"', b'42', b'null', b'true'])
    def test_top_level_must_be_an_object(self, body):
        with pytest.raises(PayloadError, match='object'):
            parse_json(body)

    def test_nesting_at_the_limit_is_accepted(self):
        body = b'{"a":' + b'[' * 127 + b']' * 127 + b'}'
        node = parse_json(body)['a']
        depth = 2
        while node:
            node = node[0]
            depth += 1
        assert depth == 128

    def test_nesting_past_the_limit(self):
        body = b'{"a":' + b'[' * 128 + b']' * 128 + b'}'
        with pytest.raises(PayloadError, match='nested'):
            parse_json(body)

    @pytest.mark.parametrize('depth', [1000, 10_000, 200_000])
    def test_very_deep_documents_do_not_recurse(self, depth):
        limit = sys.getrecursionlimit()
        body = b'{"a":' + b'[' * depth + b']' * depth + b'}'
        with pytest.raises(PayloadError):
            parse_json(body)
        body = b'{"a":' + b'{"a":' * depth + b'1' + b'}' * depth + b'}'
        with pytest.raises(PayloadError):
            parse_json(body)
        assert sys.getrecursionlimit() == limit

    def test_many_brackets_inside_strings_are_fine(self):
        body = orjson.dumps({'message': '[' * 10_000, 'extra': {'a': [1, [2]]}})
        assert parse_json(body)['message'] == '[' * 10_000

    def test_wide_but_shallow_is_fine(self):
        body = orjson.dumps({'extra': [[i] for i in range(10_000)]})
        assert len(parse_json(body)['extra']) == 10_000


SDK_HEADER = (
    b'{"event_id":"855bc1efab114918bf1bedeed65e7f68","sent_at":"2026-11-27T07:29:12.971630Z",'
    b'"trace":{"trace_id":"31c09e47435c4eb18252ee310d48c284","environment":"production","public_key":"publickey"}}'
)


class TestParseEnvelope:
    def test_sentry_cli_send_event(self):
        payload = (b'{"event_id":"cbda82bf037648e0aecc6ba284a1175c","logentry":{"message":"hello world"},'
                   b'"platform":"native","timestamp":1795764213.8946664}')
        body = (b'{"event_id":"cbda82bf-0376-48e0-aecc-6ba284a1175c"}\n'
                + b'{"type":"event","length":%d}\n' % len(payload) + payload + b'\n')
        header, items = parse_envelope(body)
        assert header == {'event_id': 'cbda82bf-0376-48e0-aecc-6ba284a1175c'}
        assert items == [({'type': 'event', 'length': len(payload)}, payload)]
        assert parse_json(items[0][1])['logentry'] == {'message': 'hello world'}

    def test_sentry_cli_raw_file_keeps_its_bytes(self):
        payload = b'{"message": "from file", "level": "info", "tags": {"a": "b"}}\n'
        body = (b'{"event_id":"00000000-0000-0000-0000-000000000000"}\n{"type":"event","length":62}\n'
                + payload + b'\n')
        _, items = parse_envelope(body)
        assert items[0][1] == payload
        assert parse_json(items[0][1])['message'] == 'from file'

    def test_sentry_sdk_envelope_with_content_type(self):
        payload = b'{"message":"hello from sentry-sdk","level":"warning"}'
        body = (SDK_HEADER + b'\n{"type":"event","content_type":"application/json","length":%d}\n' % len(payload)
                + payload + b'\n')
        header, items = parse_envelope(gzip.decompress(gzip.compress(body)))
        assert header['trace']['public_key'] == 'publickey'
        assert items[0][0]['content_type'] == 'application/json'
        assert items[0][1] == payload

    def test_envelope_serialised_by_sentry_sdk(self):
        sentry_sdk = pytest.importorskip('sentry_sdk')
        from sentry_sdk.envelope import Envelope

        event = {'event_id': uuid.uuid4().hex, 'message': 'line one\nline two', 'level': 'info'}
        sdk_envelope = Envelope(headers={'event_id': event['event_id']})
        sdk_envelope.add_event(event)
        sdk_envelope.add_item(sentry_sdk.envelope.Item(payload=b'binary\n\x00data', type='attachment'))
        header, items = parse_envelope(sdk_envelope.serialize())
        assert header == {'event_id': event['event_id']}
        assert [h['type'] for h, _ in items] == ['event', 'attachment']
        assert parse_json(items[0][1]) == event
        assert items[1][1] == b'binary\n\x00data'

    @pytest.mark.parametrize('algo, level', [('gzip', 9), ('br', 4)])
    def test_body_compressed_by_the_sentry_sdk_transport(self, algo, level):
        sentry_sdk = pytest.importorskip('sentry_sdk')
        from sentry_sdk.envelope import Envelope
        from sentry_sdk.transport import HttpTransport

        options = sentry_sdk.client._get_options(
            'http://publickey@127.0.0.1:9/42',
            _experiments={'transport_compression_algo': algo, 'transport_compression_level': level})
        transport = HttpTransport(options)
        if not hasattr(transport, '_serialize_envelope'):
            pytest.skip('sentry-sdk changed its private serialisation helper')
        sdk_envelope = Envelope(headers={'event_id': 'faa9f9c29fc54110af4bde4528748a7f'})
        sdk_envelope.add_event({'message': 'hello from sentry-sdk', 'level': 'warning'})
        content_encoding, body = transport._serialize_envelope(sdk_envelope)
        transport.kill()
        assert content_encoding == algo
        header, items = parse_envelope(decode_body(body.getvalue(), content_encoding, max_size=MB))
        assert header == {'event_id': 'faa9f9c29fc54110af4bde4528748a7f'}
        assert parse_json(items[0][1]) == {'message': 'hello from sentry-sdk', 'level': 'warning'}

    def test_items_without_length_run_to_the_newline(self):
        body = (b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"http://publickey@127.0.0.1:38221/1"}\n'
                b'{"type":"event"}\n{"message":"from envelope","level":"error"}\n')
        header, items = parse_envelope(body)
        assert header['dsn'] == 'http://publickey@127.0.0.1:38221/1'
        assert items == [({'type': 'event'}, b'{"message":"from envelope","level":"error"}')]

    def test_missing_trailing_newline(self):
        body = b'{}\n{"type":"event"}\n{"a":1}'
        assert parse_envelope(body)[1] == [({'type': 'event'}, b'{"a":1}')]
        body = envelope({}, ({'type': 'event'}, b'{"a":1}'), trailing_newline=False)
        assert parse_envelope(body)[1][0][1] == b'{"a":1}'

    def test_multiple_items_and_unknown_types(self):
        check_in = b'{"check_in_id":"4ddf865f50eb42d2bba0acebb964b2e8","monitor_slug":"nightly","status":"ok"}'
        body = envelope(
            {},
            ({'type': 'event'}, EVENT_BYTES),
            ({'type': 'check_in'}, check_in),
            ({'type': 'something_new', 'filename': 'x.bin'}, b'\x00\x01\n\x02'),
            ({'type': 'client_report'}, b'{"discarded_events":[]}'),
        )
        header, items = parse_envelope(body)
        assert header == {}
        assert [h['type'] for h, _ in items] == ['event', 'check_in', 'something_new', 'client_report']
        assert items[1][1] == check_in
        assert items[2][1] == b'\x00\x01\n\x02'

    def test_mixed_items_with_and_without_length(self):
        body = b'{}\n{"type":"a"}\n{"x":1}\n{"type":"b","length":3}\nabc\n{"type":"c"}\n\n'
        items = parse_envelope(body)[1]
        assert items == [({'type': 'a'}, b'{"x":1}'), ({'type': 'b', 'length': 3}, b'abc'), ({'type': 'c'}, b'')]

    def test_zero_length_item(self):
        items = parse_envelope(b'{}\n{"type":"attachment","length":0}\n\n{"type":"event"}\n{}')[1]
        assert items == [({'type': 'attachment', 'length': 0}, b''), ({'type': 'event'}, b'{}')]

    def test_crlf_line_endings(self):
        items = parse_envelope(b'{}\r\n{"type":"event","length":7}\r\n{"a":1}\r\n')[1]
        assert items == [({'type': 'event', 'length': 7}, b'{"a":1}')]

    def test_header_only(self):
        assert parse_envelope(b'{"event_id":"855bc1efab114918bf1bedeed65e7f68"}\n') == (
            {'event_id': '855bc1efab114918bf1bedeed65e7f68'}, [])
        assert parse_envelope(b'{}') == ({}, [])

    @pytest.mark.parametrize('body', [
        b'',
        b'\n\n',
        b'not an envelope',
        b'[]\n{"type":"event"}\n{}',
        b'{}\nnot json\n{}',
        b'{}\n{"length":2}\n{}',
        b'{}\n{"type":7}\n{}',
        b'{}\n{"type":"event","length":100}\n{"a":1}\n',
        b'{}\n{"type":"event","length":-1}\n{}',
        b'{}\n{"type":"event","length":"7"}\n{"a":1}',
        b'{}\n{"type":"event","length":true}\n{}',
        b'{}\n{"type":"event","length":2}\n{"a":1}\n',
        b'\xff\n{"type":"event"}\n{}',
    ])
    def test_garbage(self, body):
        with pytest.raises(PayloadError, match='Invalid envelope'):
            parse_envelope(body)


class TestParseAuth:
    def test_sentry_sdk_header(self):
        auth = parse_auth('Sentry sentry_key=publickey, sentry_version=7, sentry_client=sentry.python/2.75.0', {})
        assert auth == {'sentry_key': 'publickey', 'sentry_secret': None, 'sentry_version': '7',
                        'sentry_client': 'sentry.python/2.75.0'}

    def test_sentry_cli_header_with_secret(self):
        auth = parse_auth(
            'Sentry sentry_key=publickey, sentry_version=7, sentry_timestamp=1795764214.329505, '
            'sentry_client=sentry-cli/x86_64, sentry_secret=secretkey', {})
        assert auth == {'sentry_key': 'publickey', 'sentry_secret': 'secretkey', 'sentry_version': '7',
                        'sentry_client': 'sentry-cli/x86_64'}

    def test_raven_header_order(self):
        auth = parse_auth(
            'Sentry sentry_timestamp=1795764596.8801358, sentry_client=raven-python/6.10.0, '
            'sentry_version=6, sentry_key=publickey, sentry_secret=secretkey', {})
        assert auth['sentry_key'] == 'publickey'
        assert auth['sentry_version'] == '6'
        assert auth['sentry_secret'] == 'secretkey'

    def test_authorization_header_form_and_odd_spacing(self):
        auth = parse_auth('  sentry   sentry_key = abc ,sentry_version=7,,garbage', {})
        assert auth['sentry_key'] == 'abc'
        assert auth['sentry_version'] == '7'

    def test_header_without_the_sentry_word(self):
        assert parse_auth('sentry_key=abc, sentry_version=7', {})['sentry_key'] == 'abc'

    def test_value_keeps_text_after_the_first_equals(self):
        assert parse_auth('Sentry sentry_key=abc, sentry_client=x=y', {})['sentry_client'] == 'x=y'

    def test_query_parameters(self):
        auth = parse_auth(None, {'sentry_key': 'abc', 'sentry_version': '7', 'sentry_client': 'raven-js/3.0'})
        assert auth == {'sentry_key': 'abc', 'sentry_secret': None, 'sentry_version': '7',
                        'sentry_client': 'raven-js/3.0'}

    def test_query_parameters_as_lists(self):
        assert parse_auth(None, {'sentry_key': ['abc', 'def']})['sentry_key'] == 'abc'

    def test_other_schemes_fall_back_to_the_query(self):
        assert parse_auth('Bearer token', {'sentry_key': 'abc'})['sentry_key'] == 'abc'

    def test_header_wins_over_query(self):
        assert parse_auth('Sentry sentry_key=header', {'sentry_key': 'query'})['sentry_key'] == 'header'

    @pytest.mark.parametrize('header, query', [
        (None, {}),
        ('', {}),
        ('Sentry', {}),
        ('Sentry sentry_version=7, sentry_client=x', {}),
        ('Sentry sentry_key=', {}),
        ('Bearer abc', {}),
        (None, {'sentry_key': ''}),
        (None, {'sentry_key': []}),
        (None, None),
    ])
    def test_missing_key(self, header, query):
        with pytest.raises(PayloadError, match='^Unable to find authentication information$'):
            parse_auth(header, query)
