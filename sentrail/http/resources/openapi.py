"""`/api/0/openapi.json`: the OpenAPI 3.1 document of every route the app serves."""
from __future__ import annotations

import falcon

from sentrail.http.openapi import ANYONE, Api, Op, document, ok
from sentrail.http.resource import Resource
from sentrail.services import Services


def mounted_routes(services: Services) -> list[tuple[str, object]]:
    """The routes as create_app mounts them (the app module imports this one, hence the late import)."""
    from sentrail.http.app import ROUTE_FAMILIES  # noqa: PLC0415

    return [route for family in ROUTE_FAMILIES for route in family.routes(services)]


class OpenApiResource(Resource):
    """The API described as OpenAPI 3.1, generated from the resources' own declarations."""

    public = True
    api = Api(get=Op(returns=ok('OpenAPI')), security=ANYONE, tag='meta')

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._document: dict | None = None

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        if self._document is None:
            self._document = document(mounted_routes(self.services), self.services.config.url_prefix)
        resp.media = self._document


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [('/api/0/openapi.json', OpenApiResource(services))]
