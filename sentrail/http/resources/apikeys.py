"""`organizations/{org}/api-keys/` and `organizations/{org}/api-keys/{key}/` ({key} is the public number).

Only org:admin may see or manage keys, and only those of its own organization.
Beyond Sentry: a key is never given a scope its creator does not hold in the
organization, so a narrow key cannot mint a wider one.
"""
from __future__ import annotations

from uuid import UUID

import falcon
from sqlalchemy.engine import Row

from sentrail.commands.apikeys import DeleteApiKey, UpdateApiKey
from sentrail.commands.organizations import CreateApiKey
from sentrail.domain.apikey import check_key_label, check_key_scopes
from sentrail.domain.roles import API_KEY_DEFAULT_SCOPES
from sentrail.domain.sequence import public_number
from sentrail.http.errors import JSONError, not_found
from sentrail.http.openapi import NO_CONTENT, Api, Link, Op, created, ok
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.serializers.apikeys import api_key
from sentrail.projections import organizations
from sentrail.services import Services

ADMIN_ONLY = {method: ('org:admin',) for method in ('GET', 'POST', 'PUT', 'DELETE')}


def check_grantable(scopes: list[str], held: frozenset[str]) -> None:
    missing = [scope for scope in scopes if scope not in held]
    if missing:
        raise JSONError(falcon.HTTP_403,
                        {'scope_list': [f'You cannot grant a scope you do not hold: {missing[0]}.']})


def origins_field(body: dict) -> object:
    """None leaves the origins alone; an explicit null clears them, as Sentry renders null as ''."""
    if 'allowed_origins' not in body:
        return None
    return '' if body['allowed_origins'] is None else body['allowed_origins']


class ApiKeyListResource(Resource):
    """The organization's API keys, by label (not paginated)."""

    scopes = ADMIN_ONLY
    api = Api(get=Op(returns=ok(['ApiKey'])),
              post=Op(body='ApiKeyCreate', returns=created('ApiKey'),
                      links=(Link('/api/0/organizations/{org}/api-keys/{key}/',
                                  {'org': '$request.path.org', 'key': '$response.body#/id'}),)))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        with self.services.read() as conn:
            org_row = self.access(req).organization(conn, org, self.needed(req))
            resp.media = [api_key(row) for row in organizations.api_keys_of_org(conn, org_row.id)]

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        """No body needed: a key labelled 'Default' with Sentry's default scopes."""
        body = read_fields(req)
        label = check_key_label(body['label']) if body.get('label') is not None else 'Default'
        scopes = check_key_scopes(body['scope_list']) if 'scope_list' in body else list(API_KEY_DEFAULT_SCOPES)
        access = self.access(req)
        with self.services.read() as conn:
            org_row = access.organization(conn, org, self.needed(req))
            check_grantable(scopes, access.scopes_in(conn, org_row))
        outcome = self.services.execute(CreateApiKey(organization_id=UUID(org_row.id), label=label,
                                                     scopes=scopes, actor=self.auth(req).actor()))
        with self.services.read() as conn:
            row = organizations.api_key_by_number(conn, org_row.id, int(outcome.id))
        resp.status = falcon.HTTP_201
        resp.media = api_key(row)


class ApiKeyResource(Resource):
    """One API key of the organization."""

    scopes = ADMIN_ONLY
    api = Api(get=Op(returns=ok('ApiKey')), put=Op(body='ApiKeyUpdate', returns=ok('ApiKey')),
              delete=Op(returns=NO_CONTENT), path={'key': "The API key's id."})

    def _find(self, conn, req: falcon.Request, org: str, key: str) -> tuple[Row, Row]:  # noqa: ANN001
        org_row = self.access(req).organization(conn, org, self.needed(req))
        number = public_number(key)
        row = organizations.api_key_by_number(conn, org_row.id, number) if number is not None else None
        if row is None:
            raise not_found()
        return org_row, row

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, key: str) -> None:
        with self.services.read() as conn:
            resp.media = api_key(self._find(conn, req, org, key)[1])

    def on_put(self, req: falcon.Request, resp: falcon.Response, org: str, key: str) -> None:
        body = read_fields(req)
        scopes = check_key_scopes(body['scope_list']) if 'scope_list' in body else None
        with self.services.read() as conn:
            org_row, row = self._find(conn, req, org, key)
            if scopes is not None:
                check_grantable(scopes, self.access(req).scopes_in(conn, org_row))
        self.services.execute(UpdateApiKey(
            organization_id=UUID(org_row.id), api_key_id=UUID(row.id), actor=self.auth(req).actor(),
            label=body.get('label'), scopes=scopes,
            allowed_origins=origins_field(body),
        ))
        with self.services.read() as conn:
            resp.media = api_key(organizations.api_key_by_number(conn, org_row.id, row.number))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, key: str) -> None:
        with self.services.read() as conn:
            org_row, row = self._find(conn, req, org, key)
        self.services.execute(DeleteApiKey(organization_id=UUID(org_row.id), api_key_id=UUID(row.id),
                                           actor=self.auth(req).actor()))
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [
        ('/api/0/organizations/{org}/api-keys/', ApiKeyListResource(services)),
        ('/api/0/organizations/{org}/api-keys/{key}/', ApiKeyResource(services)),
    ]
