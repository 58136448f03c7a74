"""Normalise what SDKs send into the one event shape sentrail stores.

SDKs of every era disagree on types and spellings (integer levels, ISO or
epoch timestamps, ``sentry.interfaces.*`` aliases, tags as objects or pairs).
Ingestion must never reject an event for that: a field of the wrong type is
dropped and noted in ``errors`` (as Sentry does), and oversized strings and
containers are trimmed. The output contains only JSON types, has a fixed set
of top-level keys and depends only on its inputs (apart from a generated
``event_id`` when the client sent none).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import datetime
from datetime import timezone
from typing import Any
from urllib.parse import urlencode

import orjson

LEVELS = ('debug', 'info', 'warning', 'error', 'fatal')
DEFAULT_LEVEL = 'error'

_LEVEL_ALIASES = {'warn': 'warning', 'critical': 'fatal', 'log': 'info', 'trace': 'debug'}

# Platforms Sentry accepts; anything else is stored as 'other'.
PLATFORMS = frozenset((
    'as3', 'c', 'cfml', 'cocoa', 'csharp', 'elixir', 'go', 'groovy', 'haskell', 'java',
    'javascript', 'native', 'node', 'objc', 'other', 'perl', 'php', 'python', 'ruby',
))

TAG_KEY_MAX = 32
TAG_VALUE_MAX = 200
_TAG_KEY_RE = re.compile(r'^[a-zA-Z0-9_.:-]+$')

MAX_TAGS = 200
MAX_FRAMES = 250
MAX_EXCEPTIONS = 50
MAX_THREADS = 50
MAX_BREADCRUMBS = 100
MAX_CONTEXT_LINES = 50
MAX_FINGERPRINT = 100
MAX_ITEMS = 256          # entries kept per free-form dict or list
MAX_MODULES = 1000
MAX_DEPTH = 8            # nesting kept in free-form data (extra, contexts, ...)
MAX_VARS_DEPTH = 5
MAX_ERRORS = 50
MAX_FUTURE_DRIFT = 60.0  # seconds a client clock may run ahead

_HEX32_RE = re.compile(r'^[0-9a-fA-F]{32}$')
_UUID_RE = re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
_NIL_EVENT_ID = '0' * 32
_FORMAT_RE = re.compile(r'%(?:\(([^)]{0,64})\))?([sdirf%])')
_TYPE_IN_VALUE_RE = re.compile(r'^([A-Za-z_][\w.$]*): (.*)$', re.DOTALL)
_MIN_TIMESTAMP = 0.0
_MAX_TIMESTAMP = 253402300799.0  # 9999-12-31T23:59:59Z

# The canonical event's top-level keys, in output order.
EVENT_KEYS = (
    'event_id', 'project_id', 'timestamp', 'received', 'platform', 'level', 'logger',
    'server_name', 'release', 'dist', 'environment', 'transaction', 'culprit', 'message',
    'logentry', 'exception', 'stacktrace', 'threads', 'request', 'user', 'breadcrumbs',
    'contexts', 'sdk', 'extra', 'modules', 'fingerprint', 'checksum', 'tags', 'errors',
)

_SCALAR_FIELDS = ('logger', 'server_name', 'release', 'dist', 'environment', 'transaction', 'culprit')
_DERIVED_TAGS = ('level', 'environment', 'release', 'dist', 'server_name', 'logger', 'transaction')
_USER_FIELDS = ('id', 'email', 'username', 'ip_address', 'name')
_FRAME_STRINGS = (
    'filename', 'abs_path', 'module', 'function', 'package', 'platform', 'symbol',
    'instruction_addr', 'symbol_addr', 'context_line',
)


class _Context:
    """Per-event state: the string limit and the errors found so far."""

    def __init__(self, max_string: int) -> None:
        self.max_string = max(16, int(max_string))
        self.errors: list[dict] = []
        self._seen: set[str] = set()

    def invalid(self, name: str) -> None:
        if name in self._seen or len(self.errors) >= MAX_ERRORS:
            return
        self._seen.add(name)
        self.errors.append({'type': 'invalid_data', 'name': name})

    def trim(self, text: str, limit: int | None = None) -> str:
        limit = self.max_string if limit is None or limit > self.max_string else limit
        if len(text) <= limit and '\x00' not in text:
            return text  # nearly every string
        if '\x00' in text:
            text = text.replace('\x00', '')  # NUL cannot be stored in PostgreSQL text
        if len(text) > limit:
            return text[:limit - 3] + '...'
        return text


def normalize_event(
    raw: dict,
    *,
    received_at: float,
    project_id: int,
    max_string: int = 8192,
    client_ip: str | None = None,
) -> dict:
    """Return the canonical event dict for a raw SDK payload.

    ``received_at`` fills a missing or unusable timestamp. ``client_ip``
    replaces the ``{{auto}}`` placeholder SDKs put in ``user.ip_address``
    (without it the placeholder is dropped). ``raw`` is not modified.
    """
    ctx = _Context(max_string)
    if not isinstance(raw, dict):
        ctx.invalid('event')
        raw = {}
    event: dict[str, Any] = {
        'event_id': _event_id(raw.get('event_id'), ctx),
        'project_id': int(project_id),
        'timestamp': _timestamp(raw.get('timestamp'), float(received_at), ctx),
        'received': float(received_at),
        'platform': _platform(raw.get('platform'), ctx),
        'level': _level(raw.get('level'), ctx, 'level') or DEFAULT_LEVEL,
    }
    for field in _SCALAR_FIELDS:
        event[field] = _string(raw.get(field), ctx, field)
    logentry = _logentry(raw, ctx)
    event['message'] = logentry['formatted'] if logentry else ''
    event['logentry'] = logentry
    event['exception'] = _exception(_first_present(raw, 'exception', 'sentry.interfaces.Exception'), ctx)
    event['stacktrace'] = _stacktrace(
        _first_present(raw, 'stacktrace', 'sentry.interfaces.Stacktrace'), ctx, 'stacktrace')
    event['threads'] = _threads(raw.get('threads'), ctx)
    event['request'] = _request(_first_present(raw, 'request', 'sentry.interfaces.Http'), ctx)
    event['user'] = _user(_first_present(raw, 'user', 'sentry.interfaces.User'), ctx, client_ip)
    event['breadcrumbs'] = _breadcrumbs(
        _first_present(raw, 'breadcrumbs', 'sentry.interfaces.Breadcrumbs'), ctx)
    event['contexts'] = _contexts(raw.get('contexts'), ctx)
    event['sdk'] = _dict(raw.get('sdk'), ctx, 'sdk', MAX_DEPTH)
    event['extra'] = _dict(raw.get('extra'), ctx, 'extra', MAX_DEPTH) or {}
    event['modules'] = _modules(raw.get('modules'), ctx)
    event['fingerprint'] = _fingerprint(raw.get('fingerprint'), ctx)
    event['checksum'] = _string(raw.get('checksum'), ctx, 'checksum')
    event['tags'] = _tags(raw.get('tags'), event, ctx)
    event['errors'] = ctx.errors
    return event


def _first_present(raw: dict, *names: str) -> Any:
    for name in names:
        value = raw.get(name)
        if value is not None:
            return value
    return None


# -- scalars ---------------------------------------------------------------


def _string(value: Any, ctx: _Context, name: str, limit: int | None = None) -> str | None:
    """A string field; numbers are accepted and stringified, '' means absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        ctx.invalid(name)
        return None
    text = value if isinstance(value, str) else _number_text(value)
    text = ctx.trim(text.strip(), limit)
    return text or None


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _storable(number: int) -> bool:
    """Whether the event store's JSON encoder can write it (64 bits, signed or not)."""
    return -(2 ** 63) <= number < 2 ** 64


def _int(value: Any, ctx: _Context, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        ctx.invalid(name)
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and _storable(value):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip()[:18])
    ctx.invalid(name)
    return None


def _bool(value: Any, ctx: _Context, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    ctx.invalid(name)
    return None


def _event_id(value: Any, ctx: _Context) -> str:
    if isinstance(value, str):
        text = value.strip()
        if _HEX32_RE.match(text) or _UUID_RE.match(text):
            event_id = text.replace('-', '').lower()
            if event_id != _NIL_EVENT_ID:
                return event_id
            return uuid.uuid4().hex  # sentry-cli --raw sends the nil id
    if value is not None:
        ctx.invalid('event_id')
    return uuid.uuid4().hex


def _level(value: Any, ctx: _Context, name: str) -> str | None:
    """Map SDK levels (strings or Python logging numbers) to Sentry's names."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().lstrip('-').isdigit():
        value = int(value.strip()[:18])
    if isinstance(value, bool):
        pass
    elif isinstance(value, (int, float)):
        return _numeric_level(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        text = _LEVEL_ALIASES.get(text, text)
        if text in LEVELS:
            return text
    ctx.invalid(name)
    return DEFAULT_LEVEL


def _numeric_level(value: float) -> str:
    if value < 20:
        return 'debug'
    if value < 30:
        return 'info'
    if value < 40:
        return 'warning'
    if value < 50:
        return 'error'
    return 'fatal'


def _platform(value: Any, ctx: _Context) -> str:
    if value is None:
        return 'other'
    if not isinstance(value, str):
        ctx.invalid('platform')
        return 'other'
    text = value.strip().lower()
    return text if text in PLATFORMS else 'other'


def _timestamp(value: Any, received_at: float, ctx: _Context) -> float:
    if value is None:
        return received_at
    parsed = _parse_timestamp(value)
    if parsed is None:
        ctx.invalid('timestamp')
        return received_at
    if parsed > received_at + MAX_FUTURE_DRIFT:
        ctx.errors.append({'type': 'future_timestamp', 'name': 'timestamp'})
        return received_at
    return parsed


def _parse_timestamp(value: Any) -> float | None:
    """Epoch seconds (number or numeric string) or ISO 8601; naive means UTC."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = float(text)
        except ValueError:
            result = _parse_iso(text)
            if result is None:
                return None
    else:
        return None
    if not _MIN_TIMESTAMP <= result <= _MAX_TIMESTAMP:
        return None
    return round(result, 6)


def _parse_iso(text: str) -> float | None:
    if not text or len(text) > 64:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


# -- free-form data --------------------------------------------------------


def _trim_json(value: Any, ctx: _Context, depth: int) -> Any:
    """Bound a JSON value: string length, entries per container, nesting."""
    kind = type(value)
    if kind is str:  # the common case first, without the checks below
        return ctx.trim(value)
    if value is None or kind is bool:
        return value
    if isinstance(value, str):
        return ctx.trim(value)
    if isinstance(value, int):
        return value if _storable(value) else str(value)
    if isinstance(value, float):
        return value if value == value and abs(value) != float('inf') else None
    if isinstance(value, (dict, list, tuple)) and depth <= 0:
        return _flatten(value, ctx)
    if isinstance(value, dict):
        result = {}
        for index, (key, child) in enumerate(value.items()):
            if index >= MAX_ITEMS:
                break
            result[ctx.trim(str(key), 256)] = _trim_json(child, ctx, depth - 1)
        return result
    if isinstance(value, (list, tuple)):
        return [_trim_json(child, ctx, depth - 1) for child in value[:MAX_ITEMS]]
    return ctx.trim(str(value))


def _flatten(value: Any, ctx: _Context) -> str:
    """What is nested too deeply is kept as (trimmed) JSON text."""
    try:
        return ctx.trim(orjson.dumps(value, default=str).decode())
    except (TypeError, orjson.JSONEncodeError):
        return '...'


def _dict(value: Any, ctx: _Context, name: str, depth: int) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        ctx.invalid(name)
        return None
    return _trim_json(value, ctx, depth) or None


def _pairs(value: Any, ctx: _Context, name: str) -> list[list[str]] | None:
    """Objects or lists of [key, value] as a list of string pairs."""
    if value is None:
        return None
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [tuple(item) for item in value if isinstance(item, (list, tuple)) and len(item) == 2]
        if len(items) != len(value):
            ctx.invalid(name)
    else:
        ctx.invalid(name)
        return None
    pairs = []
    for key, item in items[:MAX_ITEMS]:
        if not isinstance(key, str) or item is None:
            continue
        text = item if isinstance(item, str) else _flatten(item, ctx)
        pairs.append([ctx.trim(key, 256), ctx.trim(text)])
    return pairs or None


def _modules(value: Any, ctx: _Context) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        ctx.invalid('modules')
        return {}
    result = {}
    for key, version in list(value.items())[:MAX_MODULES]:
        text = _string(version, ctx, 'modules')
        if text is not None:
            result[ctx.trim(str(key), 256)] = text
    return result


def _contexts(value: Any, ctx: _Context) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        ctx.invalid('contexts')
        return {}
    result = {}
    for key, context in list(value.items())[:MAX_ITEMS]:
        if not isinstance(context, dict):
            ctx.invalid(f'contexts.{key}'[:100])
            continue
        data = _trim_json(context, ctx, MAX_DEPTH)
        if not isinstance(data.get('type'), str):
            data['type'] = ctx.trim(str(key), 256)  # Sentry infers the type from the key
        result[ctx.trim(str(key), 256)] = data
    return result


# -- message ---------------------------------------------------------------


def _logentry(raw: dict, ctx: _Context) -> dict | None:
    """Pick the message from logentry, the raven interface or ``message``."""
    for name in ('logentry', 'sentry.interfaces.Message', 'message'):
        value = raw.get(name)
        if value is None:
            continue
        if isinstance(value, str) and name == 'message':
            value = {'message': value}
        if not isinstance(value, dict):
            ctx.invalid(name)
            continue
        entry = _logentry_from(value, ctx, name)
        if entry is not None:
            return entry
    return None


def _logentry_from(value: dict, ctx: _Context, name: str) -> dict | None:
    template = _message_text(value.get('message'), ctx, f'{name}.message')
    formatted = _message_text(value.get('formatted'), ctx, f'{name}.formatted')
    params = value.get('params')
    if params is not None and not isinstance(params, (list, dict)):
        ctx.invalid(f'{name}.params')
        params = None
    params = _trim_json(params, ctx, 3) if params else []
    if not template and not formatted:
        return None
    if not formatted:
        formatted = _format_message(template, params, ctx) if params else template
    return {'message': template or formatted, 'formatted': formatted, 'params': params}


def _message_text(value: Any, ctx: _Context, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        ctx.invalid(name)
        return None
    text = value if isinstance(value, str) else _number_text(value)
    return ctx.trim(text) or None


def _format_message(template: str, params: list | dict, ctx: _Context) -> str:
    """printf-style formatting limited to %s/%d/%i/%r/%f/%%.

    Widths and precisions are not supported on purpose: ``%0999999999d``
    must not be able to allocate gigabytes. Mismatched params leave the
    template unformatted.
    """
    positional = iter(params) if isinstance(params, list) else None

    def substitute(match: re.Match) -> str:
        name, conversion = match.group(1), match.group(2)
        if conversion == '%' and name is None:
            return '%'
        if name is not None:
            if not isinstance(params, dict) or name not in params:
                raise KeyError(name)
            return _param_text(params[name])
        if positional is None:
            raise KeyError(conversion)
        return _param_text(next(positional))

    try:
        return ctx.trim(_FORMAT_RE.sub(substitute, template))
    except (KeyError, StopIteration):
        return template


def _param_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return 'None'
    if isinstance(value, bool):
        return 'True' if value else 'False'
    if isinstance(value, (int, float)):
        return str(value)
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return str(value)


# -- exceptions and stack traces -------------------------------------------


def _exception(value: Any, ctx: _Context) -> dict | None:
    if value is None:
        return None
    if isinstance(value, dict) and 'values' in value:
        values = value['values']
    elif isinstance(value, dict):
        values = [value]  # legacy: a single exception object
    else:
        values = value
    if not isinstance(values, list):
        ctx.invalid('exception')
        return None
    result = []
    start = max(0, len(values) - MAX_EXCEPTIONS)  # the newest are last; keep those
    for index, item in enumerate(values[start:], start):
        single = _single_exception(item, ctx, f'exception.values.{index}')
        if single is not None:
            result.append(single)
    return {'values': result} if result else None


def _single_exception(item: Any, ctx: _Context, name: str) -> dict | None:
    if not isinstance(item, dict):
        ctx.invalid(name)
        return None
    exc_type = _string(item.get('type'), ctx, f'{name}.type', 256)
    value = item.get('value')
    if isinstance(value, (dict, list)):
        value = _flatten(value, ctx)
    value = _message_text(value, ctx, f'{name}.value')
    if exc_type is None and value:
        match = _TYPE_IN_VALUE_RE.match(value)
        if match:  # 'ValueError: bad thing' sent as the value alone
            exc_type, value = match.group(1), match.group(2)
    stacktrace = _stacktrace(item.get('stacktrace'), ctx, f'{name}.stacktrace')
    if exc_type is None and value is None and stacktrace is None:
        ctx.invalid(name)
        return None
    return {
        'type': exc_type,
        'value': value,
        'module': _string(item.get('module'), ctx, f'{name}.module', 256),
        'mechanism': _dict(item.get('mechanism'), ctx, f'{name}.mechanism', 4),
        'stacktrace': stacktrace,
    }


def _stacktrace(value: Any, ctx: _Context, name: str) -> dict | None:
    if value is None:
        return None
    if isinstance(value, list):
        frames = value
    elif isinstance(value, dict):
        frames = value.get('frames')
    else:
        frames = None
    if not isinstance(frames, list):
        ctx.invalid(name)
        return None
    omitted = _frames_omitted(value.get('frames_omitted') if isinstance(value, dict) else None)
    if len(frames) > MAX_FRAMES:
        half = MAX_FRAMES // 2
        omitted = [half, len(frames) - half]
        frames = frames[:half] + frames[-half:]
    result = []
    for index, frame in enumerate(frames):
        normalized = _frame(frame, ctx, f'{name}.frames.{index}')
        if normalized is not None:
            result.append(normalized)
    if not result:
        return None
    stacktrace: dict[str, Any] = {'frames': result}
    if omitted:
        stacktrace['frames_omitted'] = omitted
    return stacktrace


def _frames_omitted(value: Any) -> list[int] | None:
    """Keep an earlier trim's marker so normalising twice changes nothing."""
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in value)):
        return list(value)
    return None


def _frame(value: Any, ctx: _Context, name: str) -> dict | None:
    """Keep a frame's known keys; only keys with a value are emitted."""
    if not isinstance(value, dict):
        ctx.invalid(name)
        return None
    frame: dict[str, Any] = {}
    for key in _FRAME_STRINGS:
        raw = value.get(key)
        if raw is not None:  # most frames have a few of these: no error name made for the rest
            text = _frame_string(raw, ctx, f'{name}.{key}')
            if text is not None:
                frame[key] = text
    if 'filename' not in frame and 'abs_path' in frame:
        frame['filename'] = frame['abs_path']
    elif 'abs_path' not in frame and 'filename' in frame:
        frame['abs_path'] = frame['filename']
    for key in ('lineno', 'colno'):
        number = _int(value.get(key), ctx, f'{name}.{key}')
        if number is not None and number >= 0:
            frame[key] = number
    for key in ('pre_context', 'post_context'):
        lines = _context_lines(value.get(key), ctx, f'{name}.{key}', keep_tail=key == 'pre_context')
        if lines is not None:
            frame[key] = lines
    in_app = _bool(value.get('in_app'), ctx, f'{name}.in_app')
    if in_app is not None:
        frame['in_app'] = in_app
    frame_vars = value.get('vars')
    if frame_vars is not None:
        if isinstance(frame_vars, (dict, list)):
            frame['vars'] = _trim_json(frame_vars, ctx, MAX_VARS_DEPTH)
        else:
            ctx.invalid(f'{name}.vars')
    return frame


def _frame_string(value: Any, ctx: _Context, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        ctx.invalid(name)
        return None
    text = value if isinstance(value, str) else _number_text(value)
    return ctx.trim(text) or None


def _context_lines(value: Any, ctx: _Context, name: str, *, keep_tail: bool) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        ctx.invalid(name)
        return None
    lines = value[-MAX_CONTEXT_LINES:] if keep_tail else value[:MAX_CONTEXT_LINES]
    return [ctx.trim(line) if isinstance(line, str) else '' for line in lines]


def _threads(value: Any, ctx: _Context) -> dict | None:
    if value is None:
        return None
    values = value.get('values') if isinstance(value, dict) else value
    if not isinstance(values, list):
        ctx.invalid('threads')
        return None
    result = []
    for index, item in enumerate(values[:MAX_THREADS]):
        name = f'threads.values.{index}'
        if not isinstance(item, dict):
            ctx.invalid(name)
            continue
        thread_id = item.get('id')
        result.append({
            'id': thread_id if isinstance(thread_id, int) and not isinstance(thread_id, bool)
            else _string(thread_id, ctx, f'{name}.id', 256),
            'name': _string(item.get('name'), ctx, f'{name}.name', 256),
            'crashed': bool(_bool(item.get('crashed'), ctx, f'{name}.crashed')),
            'current': bool(_bool(item.get('current'), ctx, f'{name}.current')),
            'stacktrace': _stacktrace(item.get('stacktrace'), ctx, f'{name}.stacktrace'),
        })
    return {'values': result} if result else None


# -- request, user, breadcrumbs, tags --------------------------------------


def _request(value: Any, ctx: _Context) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        ctx.invalid('request')
        return None
    url = _string(value.get('url'), ctx, 'request.url')
    fragment = _string(value.get('fragment'), ctx, 'request.fragment')
    query_string = _query_string(value.get('query_string'), ctx)
    if url and '#' in url:
        url, _, url_fragment = url.partition('#')
        fragment = fragment or url_fragment or None
    if url and '?' in url:
        url, _, url_query = url.partition('?')
        query_string = query_string or url_query or None
    method = _string(value.get('method'), ctx, 'request.method', 32)
    cookies = value.get('cookies')
    if isinstance(cookies, str):
        cookies = _parse_cookie_header(cookies)
    request = {
        'url': url or None,
        'method': method.upper() if method else None,
        'query_string': query_string,
        'fragment': fragment,
        'data': _trim_json(value.get('data'), ctx, MAX_DEPTH),
        'cookies': _pairs(cookies, ctx, 'request.cookies'),
        'headers': _pairs(value.get('headers'), ctx, 'request.headers'),
        'env': _dict(value.get('env'), ctx, 'request.env', MAX_DEPTH),
    }
    if all(item in (None, '', [], {}) for item in request.values()):
        return None
    return request


def _query_string(value: Any, ctx: _Context) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return ctx.trim(value.lstrip('?')) or None
    pairs = _pairs(value, ctx, 'request.query_string')
    return ctx.trim(urlencode([tuple(pair) for pair in pairs])) if pairs else None


def _parse_cookie_header(text: str) -> list[list[str]]:
    pairs = []
    for part in text.split(';'):
        key, sep, item = part.strip().partition('=')
        if sep and key:
            pairs.append([key.strip(), item.strip()])
    return pairs


def _user(value: Any, ctx: _Context, client_ip: str | None) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        ctx.invalid('user')
        return None
    user: dict[str, Any] = {}
    for key in _USER_FIELDS:
        text = _string(value.get(key), ctx, f'user.{key}', 256)
        if text is not None:
            user[key] = text
    ip = user.pop('ip_address', None)
    if ip == '{{auto}}':
        ip = client_ip
    if ip:
        try:
            user['ip_address'] = str(ipaddress.ip_address(ip))
        except ValueError:
            ctx.invalid('user.ip_address')
    data = value.get('data')
    data = dict(data) if isinstance(data, dict) else {}
    if value.get('data') is not None and not isinstance(value.get('data'), dict):
        ctx.invalid('user.data')
    for key, item in value.items():
        if key not in _USER_FIELDS and key != 'data' and item is not None:
            data[key] = item  # unknown keys (geo, segment, ...) are kept as data
    if data:
        user['data'] = _trim_json(data, ctx, MAX_DEPTH)
    return user or None


def _breadcrumbs(value: Any, ctx: _Context) -> dict | None:
    if value is None:
        return None
    values = value.get('values') if isinstance(value, dict) else value
    if not isinstance(values, list):
        ctx.invalid('breadcrumbs')
        return None
    result = []
    start = max(0, len(values) - MAX_BREADCRUMBS)  # the most recent are last
    for index, crumb in enumerate(values[start:], start):
        name = f'breadcrumbs.values.{index}'
        if not isinstance(crumb, dict):
            ctx.invalid(name)
            continue
        timestamp = crumb.get('timestamp')
        parsed = _parse_timestamp(timestamp) if timestamp is not None else None
        if timestamp is not None and parsed is None:
            ctx.invalid(f'{name}.timestamp')
        result.append({
            'timestamp': parsed,
            'type': _string(crumb.get('type'), ctx, f'{name}.type', 64) or 'default',
            'category': _string(crumb.get('category'), ctx, f'{name}.category', 256),
            'level': _level(crumb.get('level'), ctx, f'{name}.level') or 'info',
            'message': _message_text(crumb.get('message'), ctx, f'{name}.message'),
            'data': _dict(crumb.get('data'), ctx, f'{name}.data', MAX_DEPTH),
        })
    return {'values': result} if result else None


def _fingerprint(value: Any, ctx: _Context) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        ctx.invalid('fingerprint')
        return None
    parts = []
    for item in value[:MAX_FINGERPRINT]:
        if isinstance(item, str):
            parts.append(ctx.trim(item))
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            parts.append(_number_text(item))
        else:
            ctx.invalid('fingerprint')
    return parts or None


def _tags(value: Any, event: dict, ctx: _Context) -> list[list[str]]:
    """Explicit tags first (first occurrence of a key wins), then derived ones."""
    if value is None:
        items: list = []
    elif isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = value
    else:
        ctx.invalid('tags')
        items = []
    tags: list[list[str]] = []
    seen: set[str] = set()
    for item in items[:MAX_TAGS]:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            pair = _tag_pair(item[0], item[1])
        else:
            pair = None
        if pair is None:
            ctx.invalid('tags')
        elif pair[0] not in seen:
            seen.add(pair[0])
            tags.append(pair)
    for key in _DERIVED_TAGS:
        _add_derived_tag(tags, seen, key, event.get(key))
    _add_derived_tag(tags, seen, 'user', _user_tag(event.get('user')))
    return tags


def _tag_pair(key: Any, value: Any) -> list[str] | None:
    if not isinstance(key, str):
        return None
    key = key.strip()
    if not key or len(key) > TAG_KEY_MAX or not _TAG_KEY_RE.match(key):
        return None
    if isinstance(value, bool):
        value = 'true' if value else 'false'
    elif isinstance(value, (int, float)):
        value = _number_text(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > TAG_VALUE_MAX or '\n' in value or '\x00' in value:
        return None
    return [key, value]


def _add_derived_tag(tags: list[list[str]], seen: set[str], key: str, value: Any) -> None:
    if value is None or key in seen:
        return
    pair = _tag_pair(key, value)
    if pair is not None:
        seen.add(key)
        tags.append(pair)


def _user_tag(user: dict | None) -> str | None:
    """Sentry's ``sentry:user`` value: the most identifying field wins."""
    if not user:
        return None
    for field, prefix in (('id', 'id'), ('email', 'email'), ('username', 'username'), ('ip_address', 'ip')):
        if user.get(field):
            return f'{prefix}:{user[field]}'
    return None
