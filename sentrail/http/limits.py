"""Oversized request heads on the management API, answered by the app as JSON
like every other error.

gunicorn lets request lines and header fields a little past these limits
through (see sentrail/server.py), so this is where they are refused. Ingestion
(outside /api/0/) reads only its `sentry_*` parameters and validates those
itself, and answers an authenticated event whatever else the URL carries, so
there only gunicorn's own caps apply.
"""
from __future__ import annotations

import falcon

MAX_QUERY_STRING = 4096
MAX_HEADER_FIELD = 8192


class RequestLimitsMiddleware:
    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not req.path.startswith('/api/0/'):
            return
        if len(req.query_string) > MAX_QUERY_STRING:
            raise falcon.HTTPUriTooLong(description=f'The query string is longer than {MAX_QUERY_STRING} bytes.')
        for name, value in req.headers.items():
            if len(name) + len(value) + 2 > MAX_HEADER_FIELD:
                raise falcon.HTTPRequestHeaderFieldsTooLarge(
                    description=f'The {name} header is longer than {MAX_HEADER_FIELD} bytes.')
