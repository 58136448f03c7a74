"""Sentry 8.22's Event shape, built from the normalized event sentrail stores.

Interfaces leave as `entries` ([{type, data}], highest display score first)
in the camelCase Sentry's interfaces rendered for its API.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso

# Sentry's interface display scores: the order of an event's entries.
DISPLAY_SCORES = {'message': 2050, 'exception': 2000, 'stacktrace': 1950, 'threads': 1900, 'breadcrumbs': 1100,
                  'request': 1000}

ERROR_MESSAGES = {
    'invalid_data': "Discarded invalid value for parameter '{name}'",
    'future_timestamp': "Discarded value for parameter '{name}' as it was in the future",
}


def seconds_iso(seconds: float | None) -> str | None:
    return iso(int(seconds * 1000)) if seconds is not None else None


def _pruned(data: dict) -> dict:
    return {key: value for key, value in data.items() if value not in (None, '', [], {})}


def context_lines(frame: dict) -> list[list]:
    """[[lineno, line], ...] around the frame's line, as Sentry's frames carry them."""
    lineno, line = frame.get('lineno'), frame.get('context_line')
    pre, post = frame.get('pre_context') or [], frame.get('post_context') or []
    if lineno is None or (line is None and not pre and not post):
        return []
    lines = [*pre, *([line] if line is not None else []), *post]
    start = lineno - len(pre)
    return [[start + index, text] for index, text in enumerate(lines)]


def frame_body(frame: dict) -> dict:
    return {
        'filename': frame.get('filename'),
        'absPath': frame.get('abs_path'),
        'module': frame.get('module'),
        'package': frame.get('package'),
        'platform': frame.get('platform'),
        'instructionAddr': frame.get('instruction_addr'),
        'symbolAddr': frame.get('symbol_addr'),
        'function': frame.get('function'),
        'symbol': frame.get('symbol'),
        'context': context_lines(frame),
        'lineNo': frame.get('lineno'),
        'colNo': frame.get('colno'),
        'inApp': bool(frame.get('in_app')),
        'errors': None,
        'vars': frame.get('vars'),
    }


def has_system_frames(stacktrace: dict | None) -> bool:
    """Some frames are the application's and some are not."""
    frames = (stacktrace or {}).get('frames') or []
    system = sum(1 for frame in frames if not frame.get('in_app'))
    return bool(system) and system != len(frames)


def stacktrace_body(stacktrace: dict | None) -> dict | None:
    if not stacktrace:
        return None
    return {
        'frames': [frame_body(frame) for frame in stacktrace.get('frames') or []],
        'framesOmitted': stacktrace.get('frames_omitted'),
        'registers': None,
        'hasSystemFrames': has_system_frames(stacktrace),
    }


def exception_entry(exception: dict) -> dict:
    values = exception.get('values') or []
    return {
        'values': [{
            'type': value.get('type'),
            'value': value.get('value'),
            'module': value.get('module'),
            'mechanism': value.get('mechanism'),
            'threadId': None,
            'stacktrace': stacktrace_body(value.get('stacktrace')),
            'rawStacktrace': None,
        } for value in values],
        'excOmitted': None,
        'hasSystemFrames': any(has_system_frames(value.get('stacktrace')) for value in values),
    }


def message_entry(logentry: dict) -> dict:
    """Sentry keeps `message` only when it differs from the formatted text."""
    message, formatted = logentry.get('message'), logentry.get('formatted')
    if message == formatted:
        message = None
    return _pruned({'message': message, 'formatted': formatted, 'params': logentry.get('params')})


def request_entry(request: dict) -> dict:
    headers = request.get('headers') or []
    content_type = next((value for name, value in headers if name.lower() == 'content-type'), None)
    return {
        'url': request.get('url'),
        'method': request.get('method'),
        'query': request.get('query_string') or '',
        'fragment': request.get('fragment') or '',
        'data': request.get('data'),
        'headers': headers,
        'cookies': request.get('cookies') or [],
        'env': request.get('env'),
        'inferredContentType': content_type.split(';')[0].strip() if content_type else None,
    }


def breadcrumbs_entry(breadcrumbs: dict) -> dict:
    return {'values': [{
        'type': crumb.get('type') or 'default',
        'timestamp': seconds_iso(crumb.get('timestamp')),
        'level': crumb.get('level') or 'info',
        'message': crumb.get('message'),
        'category': crumb.get('category'),
        'data': crumb.get('data') or None,
        'event_id': None,
    } for crumb in breadcrumbs.get('values') or []]}


def threads_entry(threads: dict) -> dict:
    return {'values': [{
        'id': thread.get('id'),
        'name': thread.get('name'),
        'crashed': bool(thread.get('crashed')),
        'current': bool(thread.get('current')),
        'stacktrace': stacktrace_body(thread.get('stacktrace')),
        'rawStacktrace': None,
    } for thread in threads.get('values') or []]}


BUILDERS = {
    'message': ('logentry', message_entry),
    'exception': ('exception', exception_entry),
    'stacktrace': ('stacktrace', stacktrace_body),
    'threads': ('threads', threads_entry),
    'breadcrumbs': ('breadcrumbs', breadcrumbs_entry),
    'request': ('request', request_entry),
}


def entries(data: dict) -> list[dict]:
    found = [{'type': kind, 'data': build(data[field])}
             for kind, (field, build) in BUILDERS.items() if data.get(field)]
    return sorted(found, key=lambda entry: -DISPLAY_SCORES[entry['type']])


def processing_errors(errors: list[dict]) -> list[dict]:
    return [{'type': error.get('type'),
             'message': ERROR_MESSAGES.get(error.get('type'), 'Unknown error').format(name=error.get('name')),
             'data': {key: value for key, value in error.items() if key != 'type'}}
            for error in errors or []]


def event(row: Row, data: dict) -> dict:
    """The Event of lists and the base of every event answer. `data` is the
    stored payload: the normalized event with its `summary` and `hashes`."""
    summary = data.get('summary') or {}
    sdk = data.get('sdk')
    return {
        'id': str(row.id),
        'groupID': str(row.group_number),
        'eventID': row.event_id,
        'size': row.size,
        'entries': entries(data),
        'dist': data.get('dist'),
        # Events without a message (most exceptions) show their title, as raven's did.
        'message': data.get('message') or summary.get('title') or '',
        'user': data.get('user'),
        'contexts': data.get('contexts') or {},
        'sdk': {key: value for key, value in sdk.items() if key != 'clientIP'} if sdk else None,
        'context': data.get('extra') or {},
        'packages': data.get('modules') or {},
        'type': summary.get('type', 'default'),
        'metadata': summary.get('metadata') or {},
        'tags': [{'key': key, 'value': value} for key, value in sorted(data.get('tags') or [])],
        'platform': data.get('platform'),
        'dateCreated': iso(row.timestamp),
        'dateReceived': iso(row.received),
        'errors': processing_errors(data.get('errors')),
        'fingerprints': list(data.get('hashes') or []),
        'title': summary.get('title') or row.title,
    }


def event_detail(row: Row, data: dict, previous: Any, following: Any, *, by_client_id: bool = False) -> dict:
    """An event answered on its own: its neighbours in the issue (database ids,
    or client ids where the event was found by one); the database-id lookups
    add Sentry's `userReport` and `release`."""
    def ident(neighbour: Any) -> str | None:
        if neighbour is None:
            return None
        return neighbour.event_id if by_client_id else str(neighbour.id)

    body = {**event(row, data), 'nextEventID': ident(following), 'previousEventID': ident(previous)}
    if not by_client_id:
        release = data.get('release')
        body.update(userReport=None, release={'version': release} if release else None)
    return body
