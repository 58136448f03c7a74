"""Decide which issue an event belongs to, and how that issue is labelled.

This follows Sentry 8's ``EventManager``: an explicit ``fingerprint`` wins,
then a legacy ``checksum``, then hash components taken from the most
significant interface (exception, stack trace, threads, message). Each
component list is MD5-hashed over its concatenated UTF-8 parts, exactly like
Sentry, so hashes are stable across releases of sentrail.

The functions expect the canonical event of
:func:`sentrail.domain.ingest_normalize.normalize_event`, but only read it
with type checks, so a partial dict is fine.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from typing import Iterable

MAX_CONTEXT_LINE = 120
TITLE_MAX = 100
CULPRIT_MAX = 200
METADATA_VALUE_MAX = 1024
UNLABELED_TITLE = '<unlabeled event>'

_DEFAULT_PLACEHOLDER_RE = re.compile(r'^\{\{\s*default\s*\}\}$')
_HASH_RE = re.compile(r'^[0-9a-fA-F]{32}$')
_URL_RE = re.compile(r'^(?:[a-zA-Z][a-zA-Z0-9+.-]*://|blob:|data:)')


def group_hashes(event: dict) -> list[str]:
    """Return the grouping hashes, primary (in-app frames only) first.

    A second hash (all frames) is returned when it differs, so an event whose
    frames are not marked in_app still lands in the same group.
    """
    fingerprint = _string_list(event.get('fingerprint'))
    if fingerprint:
        return _unique(_md5(parts) for parts in _fingerprint_components(fingerprint, event))
    checksum = event.get('checksum')
    if isinstance(checksum, str) and checksum:
        return [checksum.lower() if _HASH_RE.match(checksum) else _md5([checksum])]
    return _unique(_md5(parts) for parts in default_components(event))


def default_components(event: dict) -> list[list[str]]:
    """Hash component variants of the first interface that yields any.

    Exposed for debugging ("why did these two events group together?").
    """
    for source in (_exception_variants, _stacktrace_variants, _thread_variants, _message_variants):
        variants = source(event)
        if variants:
            return variants
    return [['']]


def _fingerprint_components(fingerprint: list[str], event: dict) -> list[list[str]]:
    if not any(_DEFAULT_PLACEHOLDER_RE.match(part) for part in fingerprint):
        return [fingerprint]
    result = []
    for default in default_components(event):
        parts: list[str] = []
        for part in fingerprint:
            if _DEFAULT_PLACEHOLDER_RE.match(part):
                parts.extend(default)
            else:
                parts.append(part)
        result.append(parts)
    return result


def _md5(parts: Iterable[str]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    for part in parts:
        digest.update(part.encode('utf-8', 'replace'))
    return digest.hexdigest()


def _unique(hashes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(hashes))


def _variants(app: list[str], system: list[str]) -> list[list[str]]:
    if not system:
        return []
    if app and app != system:
        return [app, system]
    return [system]


# -- interfaces ------------------------------------------------------------


def _exception_variants(event: dict) -> list[list[str]]:
    values = _exception_values(event)
    if not values:
        return []
    app, system = [], []
    for value in values:
        frames = _frames(value.get('stacktrace'))
        system_parts = _stack_components(frames, in_app_only=False)
        if not system_parts:
            continue
        app_parts = _stack_components(frames, in_app_only=True)
        exc_type = value.get('type')
        tail = [exc_type] if isinstance(exc_type, str) and exc_type else []
        app += app_parts + tail
        system += system_parts + tail
    if system:
        return _variants(app, system)
    fallback = [
        part
        for value in values
        for part in (value.get('type'), value.get('value'))
        if isinstance(part, str) and part
    ]
    return [fallback] if fallback else []


def _stacktrace_variants(event: dict) -> list[list[str]]:
    frames = _frames(event.get('stacktrace'))
    return _variants(_stack_components(frames, in_app_only=True), _stack_components(frames, in_app_only=False))


def _thread_variants(event: dict) -> list[list[str]]:
    threads = event.get('threads')
    values = threads.get('values') if isinstance(threads, dict) else None
    if not isinstance(values, list):
        return []
    with_stack = [t for t in values if isinstance(t, dict) and _frames(t.get('stacktrace'))]
    crashed = [t for t in with_stack if t.get('crashed') is True]
    chosen = crashed or (with_stack if len(with_stack) == 1 else [])
    if len(chosen) != 1:
        return []  # several candidate threads: none of them is clearly the cause
    frames = _frames(chosen[0].get('stacktrace'))
    return _variants(_stack_components(frames, in_app_only=True), _stack_components(frames, in_app_only=False))


def _message_variants(event: dict) -> list[list[str]]:
    """The unformatted template, so differing params group together."""
    logentry = event.get('logentry')
    if isinstance(logentry, dict):
        for key in ('message', 'formatted'):
            text = logentry.get(key)
            if isinstance(text, str) and text:
                return [[text]]
    message = event.get('message')
    if isinstance(message, str) and message:
        return [[message]]
    return []


# -- frames ----------------------------------------------------------------


def _frames(stacktrace: Any) -> list[dict]:
    frames = stacktrace.get('frames') if isinstance(stacktrace, dict) else None
    if not isinstance(frames, list):
        return []
    return [frame for frame in frames if isinstance(frame, dict)]


def _stack_components(frames: list[dict], *, in_app_only: bool) -> list[str]:
    frames = [frame for frame in frames if frame.get('filename') != '[native code]']
    if len(frames) == 1 and _is_url(frames[0].get('filename')) and not frames[0].get('function'):
        return []  # a lone browser frame pointing at a page says nothing
    if in_app_only:
        frames = [frame for frame in frames if frame.get('in_app') is True] or frames
    parts: list[str] = []
    for frame in frames:
        parts.extend(_frame_components(frame))
    return parts


def _frame_components(frame: dict) -> list[str]:
    """Location plus function and source line; the line number only as a last resort."""
    parts = []
    module, filename = frame.get('module'), frame.get('filename')
    if isinstance(module, str) and module:
        parts.append(module)
    elif isinstance(filename, str) and filename and not _is_url(filename):
        parts.append(filename)
    function = frame.get('function')
    has_function = isinstance(function, str) and bool(function)
    if has_function:
        parts.append(function)
    context_line = frame.get('context_line')
    context_line = context_line.strip() if isinstance(context_line, str) else ''
    has_context = bool(context_line) and len(context_line) <= MAX_CONTEXT_LINE
    if has_context:
        parts.append(context_line)
    lineno = frame.get('lineno')
    if not has_function and not has_context and isinstance(lineno, int) and not isinstance(lineno, bool):
        parts.append(str(lineno))
    return parts


def _is_url(filename: Any) -> bool:
    return isinstance(filename, str) and bool(_URL_RE.match(filename))


# -- summary ---------------------------------------------------------------


def group_summary(event: dict) -> dict:
    """The issue's type, title, culprit and metadata, as Sentry 8 derives them."""
    value = _title_exception(event)
    if value is not None:
        exc_type = value.get('type') if isinstance(value.get('type'), str) and value.get('type') else 'Error'
        exc_value = value.get('value') if isinstance(value.get('value'), str) else ''
        first_line = exc_value.strip().splitlines()[0] if exc_value.strip() else ''
        title = f'{exc_type}: {_truncate(first_line, TITLE_MAX)}' if first_line else exc_type
        kind = 'error'
        metadata = {'type': exc_type, 'value': _truncate(exc_value, METADATA_VALUE_MAX)}
    else:
        message = _formatted_message(event).strip()
        first_line = message.splitlines()[0].strip() if message else ''
        title = _truncate(first_line, TITLE_MAX) if first_line else UNLABELED_TITLE
        kind = 'default'
        metadata = {'title': title}
    return {'type': kind, 'title': title, 'culprit': _culprit(event), 'metadata': metadata}


def _exception_values(event: dict) -> list[dict]:
    exception = event.get('exception')
    values = exception.get('values') if isinstance(exception, dict) else None
    if not isinstance(values, list):
        return []
    return [value for value in values if isinstance(value, dict)]


def _title_exception(event: dict) -> dict | None:
    """The last (most recent, i.e. raised) exception names the issue."""
    values = _exception_values(event)
    return values[-1] if values else None


def _formatted_message(event: dict) -> str:
    logentry = event.get('logentry')
    if isinstance(logentry, dict):
        for key in ('formatted', 'message'):
            text = logentry.get(key)
            if isinstance(text, str) and text.strip():
                return text
    message = event.get('message')
    return message if isinstance(message, str) else ''


def _culprit(event: dict) -> str:
    for key in ('transaction', 'culprit'):
        text = event.get(key)
        if isinstance(text, str) and text.strip():
            return _truncate(text.strip(), CULPRIT_MAX)
    culprit = _frames_culprit(_culprit_frames(event))
    if not culprit:
        request = event.get('request')
        url = request.get('url') if isinstance(request, dict) else None
        culprit = url if isinstance(url, str) else ''
    return _truncate(culprit, CULPRIT_MAX)


def _culprit_frames(event: dict) -> list[dict]:
    stacks = [value.get('stacktrace') for value in _exception_values(event) if _frames(value.get('stacktrace'))]
    if stacks:
        return _frames(stacks[-1])
    if _frames(event.get('stacktrace')):
        return _frames(event.get('stacktrace'))
    threads = event.get('threads')
    values = threads.get('values') if isinstance(threads, dict) else None
    if isinstance(values, list):
        with_stack = [t for t in values if isinstance(t, dict) and _frames(t.get('stacktrace'))]
        chosen = [t for t in with_stack if t.get('crashed') is True] or with_stack
        if chosen:
            return _frames(chosen[0].get('stacktrace'))
    return []


def _frames_culprit(frames: list[dict]) -> str:
    """The newest in-app frame, else the newest frame that names a location."""
    fallback = ''
    for frame in reversed(frames):
        text = _frame_culprit(frame)
        if frame.get('in_app') is True and text:
            return text
        if not fallback:
            fallback = text
    return fallback


def _frame_culprit(frame: dict) -> str:
    location = frame.get('module') or frame.get('filename')
    if not isinstance(location, str) or not location:
        return ''
    function = frame.get('function')
    return f'{location} in {function if isinstance(function, str) and function else "?"}'


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _string_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]
