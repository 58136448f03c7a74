"""`projects/{org}/{project}/keys/` and `…/keys/{key}/`: client keys (DSNs), by public key."""
from __future__ import annotations

from uuid import UUID

import falcon
from sqlalchemy import Connection
from sqlalchemy.engine import Row

from sentrail.commands.organizations import CreateProjectKey
from sentrail.commands.projectkeys import DeleteProjectKey, UpdateProjectKey
from sentrail.http import fields
from sentrail.http.errors import FieldErrors, not_found
from sentrail.http.openapi import NO_CONTENT, Api, Link, Op, Param, created, ok
from sentrail.http.pagination import respond_with_page
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.serializers.projectkeys import project_key
from sentrail.projections import client_keys, projects
from sentrail.services import Services

PROJECT_SCOPES = {
    'GET': ('project:read', 'project:write', 'project:admin'),
    'POST': ('project:write', 'project:admin'),
    'PUT': ('project:write', 'project:admin'),
    'DELETE': ('project:admin',),
}


class ProjectScopedResource(Resource):
    """Sentry's ProjectPermission: the organization's scopes first, then the project,
    then (for users) access to the project's team."""

    scopes = PROJECT_SCOPES

    # NOTE: a private twin of the projects module's project loader; merge the two later.
    def project(self, req: falcon.Request, conn: Connection, org: str, project: str) -> Row:
        access = self.access(req)
        org_row = access.organization(conn, org, self.needed(req))
        row = projects.project_by_slug(conn, org_row.id, project)
        if row is None:
            raise not_found()
        access.require_team(conn, org_row, row.team_id)
        return row

    def serialize(self, row: Row) -> dict:
        return project_key(row, self.services.config.url_prefix)


def optional_hex(body: dict, name: str) -> str | None:
    """`public`/`secret` left out or empty mean: generate one."""
    value = body.get(name)
    return None if value in (None, '') else fields.string(name, value, 32)


class ProjectKeyListResource(ProjectScopedResource):
    """The project's client keys (DSNs), newest first."""

    api = Api(
        get=Op(returns=ok(['ProjectKey']), paged=True,
               query=(Param('status', {'type': 'string'}, '`active` or `inactive`.'),)),
        post=Op(body='ProjectKeyCreate', returns=created('ProjectKey'), summary='Create a client key.',
                links=(Link('/api/0/projects/{org}/{project}/keys/{key}/',
                            {'org': '$request.path.org', 'project': '$request.path.project',
                             'key': '$response.body#/id'}),)),
    )

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        with self.services.read() as conn:
            row = self.project(req, conn, org, project)
            query = client_keys.keys_query(row.id, req.get_param('status'))
            respond_with_page(req, resp, self.services.config.url_prefix, conn, query, client_keys.SORT_KEY,
                              self.serialize)

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        body = read_fields(req)
        with self.services.read() as conn:
            row = self.project(req, conn, org, project)
        name = body.get('name')
        outcome = self.services.execute(CreateProjectKey(
            project_id=UUID(row.id), actor=self.auth(req).actor(),
            name=None if name in (None, '') else fields.string('name', name, 200),
            public=optional_hex(body, 'public'), secret=optional_hex(body, 'secret'),
        ))
        with self.services.read() as conn:
            key = client_keys.key_of_project(conn, row.id, outcome.data['public'])
        resp.status = falcon.HTTP_201
        resp.media = self.serialize(key)


def rate_limit(value: object) -> dict | None:
    """null, or {"count": >= 0, "window": 0..86400}; errors nest under rateLimit."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FieldErrors({'rateLimit': ['Invalid data. Expected a dictionary.']})
    limits = {'count': (0, None), 'window': (0, 60 * 60 * 24)}
    try:
        return {name: fields.integer(name, fields.required(value, name), *bounds)
                for name, bounds in limits.items()}
    except FieldErrors as error:
        raise FieldErrors({'rateLimit': error.body}) from None


def key_changes(body: dict) -> dict:
    changes: dict = {}
    if body.get('name') not in (None, ''):
        changes['name'] = fields.string('name', body['name'], 200)
    if 'isActive' in body:
        changes['is_active'] = fields.boolean('isActive', body['isActive'])
    if 'rateLimit' in body:
        changes['rate_limit'] = rate_limit(body['rateLimit'])
    return changes


class ProjectKeyResource(ProjectScopedResource):
    """One client key, by its public key."""

    api = Api(get=Op(returns=ok('ProjectKey')), put=Op(body='ProjectKeyUpdate', returns=ok('ProjectKey')),
              delete=Op(returns=NO_CONTENT), path={'key': "The client key's public key."})

    def key(self, req: falcon.Request, conn: Connection, org: str, project: str, key: str) -> Row:
        row = client_keys.key_of_project(conn, self.project(req, conn, org, project).id, key)
        if row is None:
            raise not_found()
        return row

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str, key: str) -> None:
        with self.services.read() as conn:
            resp.media = self.serialize(self.key(req, conn, org, project, key))

    def on_put(self, req: falcon.Request, resp: falcon.Response, org: str, project: str, key: str) -> None:
        body = read_fields(req)
        with self.services.read() as conn:
            row = self.key(req, conn, org, project, key)
        self.services.execute(UpdateProjectKey(project_id=UUID(row.project_id), public=row.public,
                                               changes=key_changes(body), actor=self.auth(req).actor()))
        with self.services.read() as conn:
            resp.media = self.serialize(client_keys.key_of_project(conn, row.project_id, row.public))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, project: str, key: str) -> None:
        with self.services.read() as conn:
            row = self.key(req, conn, org, project, key)
        self.services.execute(DeleteProjectKey(project_id=UUID(row.project_id), public=row.public,
                                               actor=self.auth(req).actor()))
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [
        ('/api/0/projects/{org}/{project}/keys/', ProjectKeyListResource(services)),
        ('/api/0/projects/{org}/{project}/keys/{key}/', ProjectKeyResource(services)),
    ]
