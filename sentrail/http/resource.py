"""What every API resource shares: its services, its scope map, and access checks."""
from __future__ import annotations

from typing import ClassVar

import falcon

from sentrail.http.auth import Access, Auth
from sentrail.services import Services

METHODS = ('GET', 'POST', 'PUT', 'DELETE')


class Resource:
    """Subclasses implement on_get/on_post/... and declare `scopes`: per method,
    the scopes of which a key or token must hold at least one (Sentry's scope_map)."""

    public: ClassVar[bool] = False
    scopes: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, 'on_get') and 'on_head' not in vars(cls):
            cls.on_head = cls.on_get  # falcon drops the body of a HEAD answer

    def __init__(self, services: Services) -> None:
        self.services = services

    def access(self, req: falcon.Request) -> Access:
        return Access(self.services, req.context.auth)

    @staticmethod
    def auth(req: falcon.Request) -> Auth:
        return req.context.auth

    def needed(self, req: falcon.Request) -> tuple[str, ...] | None:
        method = 'GET' if req.method == 'HEAD' else req.method
        return self.scopes.get(method)


def allowed_methods(resource: object) -> list[str]:
    methods = [m for m in METHODS if hasattr(resource, f'on_{m.lower()}')]
    if 'GET' in methods:
        methods.append('HEAD')
    return methods + ['OPTIONS']


class AllowMiddleware:
    """Every answer carries `Allow`, as Sentry's do; OPTIONS answers 200 with it."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         params: dict) -> None:
        if resource is not None:
            req.context.allow = ', '.join(allowed_methods(resource))

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         req_succeeded: bool) -> None:
        allow = getattr(req.context, 'allow', None)
        if allow:
            resp.set_header('Allow', allow)
        if req.method == 'OPTIONS' and resource is not None and req_succeeded:
            resp.status = falcon.HTTP_200
            resp.data = b''
