"""Reading request bodies: JSON only, bounded in size, merged with the query string."""
from __future__ import annotations

from urllib.parse import unquote_plus

import falcon
import orjson

from sentrail.http.errors import FieldErrors

JSON_TYPES = ('application/json', '')
NUL_REFUSED = 'Null characters are not allowed.'


def holds_nul(value: object) -> bool:
    """Whether a NUL character is anywhere in a parsed JSON value (walked without
    recursion: a body may nest as deep as the parser allows)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if '\x00' in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class NullCharacterMiddleware:
    """PostgreSQL text cannot hold a NUL character, so one in a path or a query
    parameter of /api/0/ is refused up front (DRF's 400), rather than failing
    in a query, or worse, in a projection after its event was stored."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path.startswith('/api/0/') and ('\x00' in req.path or '\x00' in unquote_plus(req.query_string)):
            raise falcon.HTTPBadRequest(description=NUL_REFUSED)


def read_body(req: falcon.Request, limit: int) -> bytes:
    if req.content_length is not None and req.content_length > limit:
        raise falcon.HTTPContentTooLarge(description='Request body is too large.')
    data = req.bounded_stream.read(limit + 1)
    if len(data) > limit:
        raise falcon.HTTPContentTooLarge(description='Request body is too large.')
    return data


def read_json(req: falcon.Request) -> dict:
    """The request's JSON object; {} when there is no body (cached on the request)."""
    cached = getattr(req.context, 'json', None)
    if cached is not None:
        return cached
    data = read_body(req, req.context.max_body)
    body: dict = {}
    if data.strip():
        content_type = (req.content_type or '').split(';')[0].strip().lower()
        if content_type not in JSON_TYPES:
            raise falcon.HTTPUnsupportedMediaType(
                description=f"Unsupported media type '{req.content_type}' in request.")
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise falcon.HTTPBadRequest(description=f'JSON parse error - {error}') from None
        if not isinstance(parsed, dict):
            raise falcon.HTTPBadRequest(description='Invalid data. Expected a dictionary.')
        for name, value in parsed.items():
            if holds_nul(name) or holds_nul(value):
                raise FieldErrors({name.replace('\x00', ''): [NUL_REFUSED]})
        body = parsed
    req.context.json = body
    return body


def read_fields(req: falcon.Request) -> dict:
    """Body fields, with query-string parameters filling in what the body lacks
    (Sentry lets parameters come either way on every method)."""
    fields = {k: v for k, v in req.params.items() if k != 'cursor'}
    fields.update(read_json(req))
    return fields
