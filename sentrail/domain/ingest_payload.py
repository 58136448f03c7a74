"""Turn the bytes of an ingestion request into JSON objects.

Everything here is pure (bytes in, dicts out) so that the HTTP layer only has
to map :class:`PayloadError` to a 400 (or 413 for :class:`PayloadTooLarge`)
with ``{"detail": msg}`` and an ``X-Sentry-Error`` header.

Clients covered (see the client captures): sentry-cli sends uncompressed
envelopes, sentry-sdk sends gzip (level 9) or brotli envelopes, raven sends
``zlib.compress(json)`` labelled ``Content-Encoding: deflate`` to the store
endpoint, and very old raven clients send base64(zlib(json)) with no label.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any
from typing import Mapping

import brotli
import orjson

MAX_JSON_DEPTH = 128

# Output is produced in slices of at most this size, so that the overshoot
# past ``max_size`` (and the memory held for a bomb) stays small.
_CHUNK = 256 * 1024

_GZIP_MAGIC = b'\x1f\x8b'
_WHITESPACE = b' \t\r\n'


class PayloadError(ValueError):
    """The request body or its auth information cannot be used.

    ``message`` (also ``detail``, like the domain errors) is short and safe
    to echo back to the client.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.detail = message


class PayloadTooLarge(PayloadError):
    """The body, or what it decompresses to, is larger than allowed."""


# -- decompression ---------------------------------------------------------


def decode_body(body: bytes, content_encoding: str | None, *, max_size: int) -> bytes:
    """Undo the transport encoding of an ingestion body.

    Honours ``gzip``, ``deflate`` (zlib-wrapped as raven sends it, or raw
    RFC 1951), ``br`` and ``identity``; a comma-separated list is undone in
    reverse order. An unlabelled body that is not JSON is tried as gzip/zlib
    by its magic bytes and then as the legacy base64(zlib(json)) format.
    Output is capped at ``max_size`` bytes while decompressing, so bombs are
    stopped early.
    """
    data = bytes(body)
    if len(data) > max_size:
        raise PayloadTooLarge(f'Payload too large (limit is {max_size} bytes)')
    codings = _parse_content_encoding(content_encoding)
    if not codings:
        return _decode_unlabelled(data, max_size)
    for coding in reversed(codings):
        data = _decode_one(data, coding, max_size)
    return data


def _parse_content_encoding(value: str | None) -> list[str]:
    if not value:
        return []
    codings = [part.strip().lower() for part in value.split(',')]
    return [c for c in codings if c and c != 'identity']


def _decode_one(data: bytes, coding: str, max_size: int) -> bytes:
    if coding in ('gzip', 'x-gzip'):
        return _gunzip(data, max_size)
    if coding == 'deflate':
        return _inflate_deflate(data, max_size)
    if coding == 'br':
        return _unbrotli(data, max_size)
    raise PayloadError(f'Unsupported Content-Encoding: {coding[:40]}')


def _decode_unlabelled(data: bytes, max_size: int) -> bytes:
    stripped = data.lstrip(_WHITESPACE)
    if not stripped or stripped[:1] in (b'{', b'['):
        # JSON or an envelope (whose header line is a JSON object); arrays
        # are left for parse_json to reject with a clear message.
        return data
    if data.startswith(_GZIP_MAGIC):
        return _gunzip(data, max_size)
    if _looks_like_zlib(data):
        try:
            return _inflate(data, zlib.MAX_WBITS, max_size, 'deflate')
        except PayloadTooLarge:
            raise
        except PayloadError:
            pass  # base64 text can begin with two bytes that look like a zlib header
    return _decode_legacy_base64(data, max_size)


def _decode_legacy_base64(data: bytes, max_size: int) -> bytes:
    """Old raven clients: base64(zlib(json)), or plain base64(json)."""
    try:
        decoded = base64.b64decode(b''.join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        # Not base64 either; let the JSON parser report what is wrong.
        return data
    try:
        return _inflate(decoded, zlib.MAX_WBITS | 32, max_size, 'deflate')
    except PayloadTooLarge:
        raise
    except PayloadError:
        return decoded


def _looks_like_zlib(data: bytes) -> bool:
    # RFC 1950 header: CM=8 (deflate), CINFO<=7, and (CMF*256+FLG) % 31 == 0.
    if len(data) < 2:
        return False
    cmf, flg = data[0], data[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0


def _gunzip(data: bytes, max_size: int) -> bytes:
    out = bytearray()
    rest = data
    while True:
        rest = _inflate_into(out, rest, zlib.MAX_WBITS | 16, max_size, 'gzip')
        rest = rest.lstrip(b'\x00')  # some writers pad with zeros
        if not rest:
            return bytes(out)
        if not rest.startswith(_GZIP_MAGIC):
            raise PayloadError('Invalid gzip data: trailing garbage')


def _inflate_deflate(data: bytes, max_size: int) -> bytes:
    """``deflate`` is zlib-wrapped in practice (raven) but may be raw, or even gzip."""
    if data.startswith(_GZIP_MAGIC):
        return _gunzip(data, max_size)
    if _looks_like_zlib(data):
        try:
            return _inflate(data, zlib.MAX_WBITS, max_size, 'deflate')
        except PayloadTooLarge:
            raise
        except PayloadError:
            pass  # a raw stream can start with bytes that look like a header
    return _inflate(data, -zlib.MAX_WBITS, max_size, 'deflate')


def _inflate(data: bytes, wbits: int, max_size: int, label: str) -> bytes:
    out = bytearray()
    _inflate_into(out, data, wbits, max_size, label)
    return bytes(out)


def _inflate_into(out: bytearray, data: bytes, wbits: int, max_size: int, label: str) -> bytes:
    """Inflate one stream into ``out``; return the bytes after its end."""
    inflater = zlib.decompressobj(wbits)
    pending = data
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, min(_CHUNK, max_size - len(out) + 1))
            pending = inflater.unconsumed_tail
            if not chunk and not pending:
                raise PayloadError(f'Invalid {label} data: truncated')
            out += chunk
            if len(out) > max_size:
                raise PayloadTooLarge(f'Decompressed payload too large (limit is {max_size} bytes)')
    except zlib.error as exc:
        raise PayloadError(f'Invalid {label} data') from exc
    return inflater.unused_data


def _unbrotli(data: bytes, max_size: int) -> bytes:
    decoder = brotli.Decompressor()
    out = bytearray()
    pending = data
    try:
        while True:
            chunk = decoder.process(pending, output_buffer_limit=min(_CHUNK, max_size - len(out) + 1))
            out += chunk
            pending = b''
            if len(out) > max_size:
                raise PayloadTooLarge(f'Decompressed payload too large (limit is {max_size} bytes)')
            if decoder.is_finished():
                return bytes(out)
            # Input all consumed, no output, and the stream not finished: it was cut short.
            if not chunk and decoder.can_accept_more_data():
                raise PayloadError('Invalid br data: truncated')
    except brotli.error as exc:
        raise PayloadError('Invalid br data') from exc


# -- JSON ------------------------------------------------------------------


def parse_json(data: bytes) -> dict:
    """Parse a JSON object strictly (UTF-8, no NaN, no BOM, bounded depth).

    Duplicate keys are accepted; the last one wins.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f'Invalid JSON: {_first_line(str(exc))}') from None
    if not isinstance(value, dict):
        raise PayloadError('Invalid JSON: expected an object at the top level')
    if _may_exceed_depth(data) and _depth_exceeds(value, MAX_JSON_DEPTH):
        raise PayloadError(f'Invalid JSON: nested deeper than {MAX_JSON_DEPTH} levels')
    return value


def _first_line(text: str) -> str:
    return text.splitlines()[0][:200] if text else 'unknown error'


def _may_exceed_depth(data: bytes | bytearray | memoryview | str) -> bool:
    """Cheap upper bound: fewer brackets than the limit cannot nest too deep."""
    if isinstance(data, str):
        return data.count('{') + data.count('[') > MAX_JSON_DEPTH
    raw = bytes(data)
    return raw.count(b'{') + raw.count(b'[') > MAX_JSON_DEPTH


def _depth_exceeds(value: Any, limit: int) -> bool:
    # Iterative on purpose: the whole point is to survive deep input.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, (dict, list)))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))
    return False


# -- envelopes -------------------------------------------------------------


def parse_envelope(data: bytes) -> tuple[dict, list[tuple[dict, bytes]]]:
    """Split an envelope into its header and ``(item header, payload)`` pairs.

    An item with ``length`` owns exactly that many bytes (then an optional
    newline); without it the payload runs to the next newline or the end.
    Payloads are returned as bytes: only the caller knows which item types
    it wants to parse.
    """
    raw = bytes(data)
    if not raw.strip(_WHITESPACE):
        raise PayloadError('Invalid envelope: empty body')
    line, pos = _read_line(raw, 0)
    header = _parse_header(line, 'envelope header')
    items: list[tuple[dict, bytes]] = []
    while pos < len(raw):
        line, pos = _read_line(raw, pos)
        if not line.strip(_WHITESPACE):
            continue  # tolerate blank lines between items and at the end
        item_header = _parse_header(line, 'item header')
        item_type = item_header.get('type')
        if not isinstance(item_type, str) or not item_type:
            raise PayloadError('Invalid envelope: item header without a type')
        length = item_header.get('length')
        if length is None:
            payload, pos = _read_line(raw, pos)
        else:
            payload, pos = _read_exact(raw, pos, length)
        items.append((item_header, payload))
    return header, items


def _read_line(raw: bytes, pos: int) -> tuple[bytes, int]:
    end = raw.find(b'\n', pos)
    if end < 0:
        return raw[pos:], len(raw)
    return raw[pos:end], end + 1


def _read_exact(raw: bytes, pos: int, length: Any) -> tuple[bytes, int]:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise PayloadError('Invalid envelope: item length must be a non-negative integer')
    end = pos + length
    if end > len(raw):
        raise PayloadError('Invalid envelope: item payload shorter than its length')
    if end < len(raw):
        if raw[end:end + 1] == b'\n':
            return raw[pos:end], end + 1
        if raw[end:end + 2] == b'\r\n':
            return raw[pos:end], end + 2
        raise PayloadError('Invalid envelope: item payload longer than its length')
    return raw[pos:end], end


def _parse_header(line: bytes, what: str) -> dict:
    try:
        return parse_json(line)
    except PayloadError as exc:
        raise PayloadError(f'Invalid envelope: bad {what} ({exc.message})') from None


# -- auth ------------------------------------------------------------------

_AUTH_FIELDS = ('sentry_key', 'sentry_secret', 'sentry_version', 'sentry_client')


def parse_auth(header_value: str | None, query: Mapping[str, Any]) -> dict:
    """Read the client key from ``X-Sentry-Auth``/``Authorization`` or the query.

    The header form is ``Sentry sentry_key=..., sentry_version=7, ...``; the
    leading ``Sentry`` word is optional. A header of another scheme (e.g.
    ``Bearer``) is ignored. When both the header and the query carry a key,
    the header wins. Returns all of :data:`_AUTH_FIELDS`, absent ones as None.
    """
    fields = _parse_auth_header(header_value)
    if not fields.get('sentry_key'):
        fields = {name: _query_value(query, name) for name in _AUTH_FIELDS}
    if not fields.get('sentry_key'):
        raise PayloadError('Unable to find authentication information')
    return {name: fields.get(name) or None for name in _AUTH_FIELDS}


def _parse_auth_header(value: str | None) -> dict[str, str]:
    if not value or not value.strip():
        return {}
    text = value.strip()
    first, _, rest = text.partition(' ')
    if '=' not in first:
        if first.lower() != 'sentry':
            return {}
        text = rest
    fields: dict[str, str] = {}
    for part in text.split(','):
        key, sep, val = part.partition('=')
        key = key.strip().lower()
        if sep and key:
            fields[key] = val.strip()
    return fields


def _query_value(query: Mapping[str, Any], name: str) -> str | None:
    value = query.get(name) if query else None
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    return str(value).strip()
