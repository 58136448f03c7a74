"""Hostile and broken ingestion requests: each gets a JSON 4xx (or, where Sentry
accepts and trims, a 200), never a 500, and a refused one stores nothing."""
from __future__ import annotations

import gzip
import json
import os
import zlib

import brotli
import orjson

from tests.test_ingest_http import envelope, event_item, public_key, sentry_auth, stored


def bomb(compress, size: int) -> bytes:
    """`size` zero bytes, compressed in slices so the test never holds them."""
    chunk = bytes(1024 * 1024)
    return compress(chunk, size // len(chunk))


def gzip_bomb(chunk: bytes, count: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b''.join([packer.compress(chunk) for _ in range(count)] + [packer.flush()])


def deflate_bomb(chunk: bytes, count: int) -> bytes:
    packer = zlib.compressobj(9)
    return b''.join([packer.compress(chunk) for _ in range(count)] + [packer.flush()])


def brotli_bomb(chunk: bytes, count: int) -> bytes:
    packer = brotli.Compressor(quality=5)
    return b''.join([packer.process(chunk) for _ in range(count)] + [packer.finish()])


def deep(depth: int) -> bytes:
    return b'{"extra": {"a": ' + b'[' * depth + b']' * depth + b'}}'


EVENT = orjson.dumps({'message': 'fine', 'level': 'error'})

STORE_BODIES = {
    'garbage': (os.urandom(2048), {}),
    'nothing': (b'', {}),
    'whitespace': (b' \n\t ', {}),
    'truncated gzip': (gzip.compress(EVENT * 50)[:-12], {'Content-Encoding': 'gzip'}),
    'gzip with a bad crc': (gzip.compress(EVENT)[:-8] + b'\0' * 8, {'Content-Encoding': 'gzip'}),
    'gzip with trailing garbage': (gzip.compress(EVENT) + b'garbage', {'Content-Encoding': 'gzip'}),
    'truncated deflate': (zlib.compress(EVENT * 50)[:-20], {'Content-Encoding': 'deflate'}),
    'truncated brotli': (brotli.compress(EVENT * 50)[:-10], {'Content-Encoding': 'br'}),
    'garbage labelled br': (os.urandom(512), {'Content-Encoding': 'br'}),
    'unknown encoding': (EVENT, {'Content-Encoding': 'zstd'}),
    'json array': (b'[1, 2]', {}),
    'json string': (b'"event"', {}),
    'json null': (b'null', {}),
    'truncated json': (EVENT[:-3], {}),
    'invalid utf-8': (b'{"message": "\xff\xfe bad"}', {}),
    'lone surrogate': (b'{"message": "\\ud800"}', {}),
    'NaN': (b'{"message": "x", "timestamp": NaN}', {}),
    'byte order mark': (b'\xef\xbb\xbf' + EVENT, {}),
    'nested 10,000 deep': (deep(10_000), {}),
    'nested 200 deep': (deep(200), {}),
    'base64 of garbage': (b'QUJDREVGR0g=', {}),
}

ENVELOPE_BODIES = {
    'header not json': b'not json\n{"type":"event"}\n{}\n',
    'header is an array': b'[]\n{"type":"event"}\n{}\n',
    'item without type': b'{}\n{"length":2}\n{}\n',
    'item type not a string': b'{}\n{"type":5}\n{}\n',
    'length past the end': b'{}\n{"type":"event","length":500}\n{}\n',
    'negative length': b'{}\n{"type":"event","length":-1}\n{}\n',
    'length as text': b'{}\n{"type":"event","length":"2"}\n{}\n',
    'payload longer than length': b'{}\n{"type":"event","length":2}\n{"message":"x"}\n',
    'event not json': b'{}\n{"type":"event"}\n{"message": \n',
    'event is a list': b'{}\n{"type":"event"}\n[1]\n',
    'event deeply nested': b'{}\n{"type":"event"}\n' + deep(5000) + b'\n',
    'only newlines': b'\n\n\n',
    'nul bytes': b'\x00' * 64,
}


def assert_refused(response, status: int, case: object = None) -> None:
    assert response.status_code == status, (case, response.text)
    assert response.headers['Content-Type'].startswith('application/json')
    assert isinstance(response.json['detail'], str) and response.json['detail']
    assert response.headers['X-Sentry-Error'] == response.json['detail']


def test_broken_bodies_are_400_and_store_nothing(client, services, install):
    key = public_key(install)
    head = services.app.recorder.max_notification_id()
    for name, (body, headers) in STORE_BODIES.items():
        response = client.simulate_post(f'/api/{install.project_id}/store/', body=body,
                                        headers={**sentry_auth(key), **headers})
        assert_refused(response, 400, name)
    for name, body in ENVELOPE_BODIES.items():
        response = client.simulate_post(f'/api/{install.project_id}/envelope/', body=body, headers=sentry_auth(key))
        assert_refused(response, 400, name)
    assert services.app.recorder.max_notification_id() == head


def test_decompression_bombs_and_huge_strings_are_413(client, services, install):
    key = public_key(install)
    head = services.app.recorder.max_notification_id()
    store, envelope_path = f'/api/{install.project_id}/store/', f'/api/{install.project_id}/envelope/'
    limit = services.config.max_envelope_bytes
    cases = [
        (store, bomb(gzip_bomb, 8 * 1024 * 1024), 'gzip'),
        (store, bomb(deflate_bomb, 8 * 1024 * 1024), 'deflate'),
        (envelope_path, bomb(gzip_bomb, limit + 4 * 1024 * 1024), 'gzip'),
        (store, zlib.compress(orjson.dumps({'message': 'x' * 10_000_000})), 'deflate'),
        (store, orjson.dumps({'message': 'x' * 10_000_000}), None),
        (envelope_path, gzip.compress(envelope({}, event_item({'message': 'x' * 10_000_000}))), 'gzip'),
    ]
    for path, body, encoding in cases:
        headers = {**sentry_auth(key), **({'Content-Encoding': encoding} if encoding else {})}
        response = client.simulate_post(path, body=body, headers=headers)
        assert_refused(response, 413, (path, encoding))
    assert services.app.recorder.max_notification_id() == head


def test_brotli_bombs_are_413_and_large_brotli_bodies_are_accepted(client, services, install):
    key = {**sentry_auth(public_key(install)), 'Content-Encoding': 'br'}
    head = services.app.recorder.max_notification_id()
    bomb_answer = client.simulate_post(f'/api/{install.project_id}/envelope/', headers=key,
                                       body=bomb(brotli_bomb, services.config.max_envelope_bytes + 1024 * 1024))
    assert_refused(bomb_answer, 413, 'brotli bomb')
    assert services.app.recorder.max_notification_id() == head
    large = orjson.dumps({'message': 'large', 'extra': {str(n): os.urandom(8).hex() for n in range(20_000)}})
    accepted = client.simulate_post(f'/api/{install.project_id}/store/', headers=key, body=brotli.compress(large))
    assert accepted.status_code == 200, accepted.text


def test_malformed_auth_is_401_and_stores_nothing(client, services, install):
    key = public_key(install)
    head = services.app.recorder.max_notification_id()
    path = f'/api/{install.project_id}/store/'
    headers = [
        'Sentry', 'Sentry ', 'Sentry ,,,,', 'Sentry sentry_key', 'Sentry sentry_key=', 'Sentry =, =x, ==',
        'sentry_key', 'Sentry sentry_key=a\x00b', 'Sentry sentry_key=' + 'a' * 10_000,
        'Sentry sentry_key=ключ', 'Sentry sentry_key="' + key + '"', 'Basic Zm9vOmJhcg==',
        f'Sentry sentry_key={key} sentry_version=7',
        f'Sentry sentry_key={key}, sentry_secret=\x00',
    ]
    for value in headers:
        response = client.simulate_post(path, body=EVENT, headers={'X-Sentry-Auth': value})
        assert_refused(response, 401, value[:50])
    for params in ({'sentry_key': ''}, {'sentry_key': 'x' * 50_000}, {'sentry_key': '\x00'}):
        assert_refused(client.simulate_post(path, body=EVENT, params=params), 401, params['sentry_key'][:10])
    huge_query = client.simulate_post(path, body=EVENT, query_string='a=' + 'b' * 100_000 + '&sentry_key=nope')
    assert_refused(huge_query, 401)
    for project in ('abc', '0', '-1', '9' * 40, '%00'):
        assert_refused(client.simulate_post(f'/api/{project}/store/', body=EVENT, headers=sentry_auth(key)), 403,
                       project)
    assert services.app.recorder.max_notification_id() == head
    # A huge query string is no reason to refuse a well-authenticated event.
    accepted = client.simulate_post(path, body=EVENT, headers=sentry_auth(key), query_string='a=' + 'b' * 100_000)
    assert accepted.status_code == 200


def test_wrong_types_are_accepted_and_trimmed_like_sentry(client, services, install):
    """Sentry drops a field of the wrong type (noting it in `errors`) and trims
    oversized values; the event itself is still accepted."""
    key = public_key(install)
    fields = ['event_id', 'message', 'logentry', 'level', 'timestamp', 'platform', 'logger', 'release', 'dist',
              'environment', 'server_name', 'transaction', 'culprit', 'exception', 'stacktrace', 'threads',
              'request', 'user', 'breadcrumbs', 'contexts', 'sdk', 'extra', 'modules', 'fingerprint', 'checksum',
              'tags', 'sentry.interfaces.Message', 'sentry.interfaces.Exception', 'sentry.interfaces.Http']
    values = [None, True, -1, 1e308, 10 ** 30, 'text', [], {}, [[None]], {'values': 5}, {'': {'': []}},
              [{'frames': 'x'}]]
    head = services.app.recorder.max_notification_id()
    bodies = [json.dumps({field: value}).encode() for field in fields for value in values]  # 10^30: no orjson
    bodies += [
        orjson.dumps({'exception': {'values': [{'type': 1, 'value': [], 'stacktrace': {'frames': [1, None, 'x']}}]}}),
        json.dumps({'exception': {'values': [{'type': 'E', 'stacktrace': {'frames': [
            {'function': 'f', 'lineno': 10 ** 30, 'colno': 1e300}]}}]}}).encode(),
        orjson.dumps({'tags': [[1, 2], ['a'], 'x', None, ['k', 'v', 'w']], 'user': {'id': {}, 'ip_address': 5}}),
        b'{"message": "first", "message": "second", "level": "info", "level": 40}',  # duplicate keys
        orjson.dumps({'message': 'y' * 500_000, 'extra': {'big': 'z' * 400_000}}),
        orjson.dumps({'message': 'nul \u0000 inside', 'tags': {'k\u0000': 'v\u0000'}}),
    ]
    for body in bodies:
        response = client.simulate_post(f'/api/{install.project_id}/store/', body=body, headers=sentry_auth(key))
        assert response.status_code == 200, (body[:200], response.text)
        assert len(response.json['id']) == 32
    events = stored(services)
    assert len(events) == len(bodies)
    assert services.app.recorder.max_notification_id() > head
    duplicate, huge = events[-3].data, events[-2].data
    assert duplicate['message'] == 'second' and duplicate['level'] == 'error'
    assert len(huge['message']) <= services.config.ingest_max_string
    assert any(e.data['errors'] for e in events)
