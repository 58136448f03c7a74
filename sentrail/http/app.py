"""The Falcon application factory: every route, middleware and error handler."""
from __future__ import annotations

import falcon

from sentrail.config import Config
from sentrail.http import errors
from sentrail.http.auth import AuthMiddleware
from sentrail.http.limits import RequestLimitsMiddleware
from sentrail.http.media import json_handler
from sentrail.http.payload import NullCharacterMiddleware
from sentrail.http.readonly import ReadOnlyMiddleware
from sentrail.http.resource import AllowMiddleware
from sentrail.http.resources import apikeys, audit, members, organizations, projectkeys, projects, root, teams, users
from sentrail.http.resources import ingest
from sentrail.http.resources import releases, repos
from sentrail.http.resources import events, issues, notes, stats
from sentrail.http.resources import openapi
from sentrail.services import Services

ROUTE_FAMILIES = (root, users, organizations, audit, members, apikeys, teams, projects, projectkeys, ingest, releases,
                  repos, issues, notes, events, stats, openapi)


def create_app(config: Config | None = None, services: Services | None = None) -> falcon.App:
    services = services or Services(config or Config.from_env())
    middleware = [RequestLimitsMiddleware(), NullCharacterMiddleware()] + (
        [ReadOnlyMiddleware()] if services.config.read_only else [])
    app = falcon.App(middleware=[*middleware, AllowMiddleware(), AuthMiddleware(services)])
    app.req_options.strip_url_path_trailing_slash = False
    app.req_options.auto_parse_qs_csv = False
    handler = json_handler()
    app.req_options.media_handlers[falcon.MEDIA_JSON] = handler
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = handler
    errors.install(app)
    for family in ROUTE_FAMILIES:
        for path, resource in family.routes(services):
            app.add_route(path, resource)
    return app
