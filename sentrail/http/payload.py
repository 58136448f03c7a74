"""Reading request bodies: JSON only, bounded in size, merged with the query string."""
from __future__ import annotations

import falcon
import orjson

JSON_TYPES = ('application/json', '')


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
        body = parsed
    req.context.json = body
    return body


def read_fields(req: falcon.Request) -> dict:
    """Body fields, with query-string parameters filling in what the body lacks
    (Sentry lets parameters come either way on every method)."""
    fields = {k: v for k, v in req.params.items() if k != 'cursor'}
    fields.update(read_json(req))
    return fields
