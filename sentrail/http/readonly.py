"""Serving a point-in-time snapshot: reads work as usual, every write is refused."""
from __future__ import annotations

import falcon

WRITES = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
DETAIL = 'This server is read-only: it serves a snapshot of the read models, and nothing can be changed here.'


class ReadOnlyMiddleware:
    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.method in WRITES:
            raise falcon.HTTPMethodNotAllowed(['GET', 'HEAD', 'OPTIONS'], description=DETAIL)
