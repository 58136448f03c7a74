"""`organizations/` and `organizations/{org}/`."""
from __future__ import annotations

from uuid import UUID

import falcon
from sqlalchemy import or_

from sentrail.commands.organizations import CreateOrganization, DeleteOrganization, UpdateOrganization
from sentrail.domain.roles import ROLE_ORDER, SCOPES
from sentrail.domain.sequence import public_number
from sentrail.http import fields
from sentrail.http.errors import not_authenticated
from sentrail.http.openapi import NO_CONTENT, Api, Link, Op, Param, created, ok
from sentrail.http.pagination import respond_with_page
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.serializers.organizations import detailed_organization, organization
from sentrail.http.serializers.projects import project as serialize_project
from sentrail.http.serializers.teams import team_with_projects
from sentrail.projections import catalog, organizations
from sentrail.projections.organizations import organizations as org_table
from sentrail.services import Services

ORG_SCOPES = {
    'GET': ('org:read', 'org:write', 'org:admin'),
    'POST': ('org:write', 'org:admin'),
    'PUT': ('org:write', 'org:admin'),
    'DELETE': ('org:admin',),
}

FLAG_FIELDS = {
    'openMembership': 'open_membership',
    'allowSharedIssues': 'allow_shared_issues',
    'enhancedPrivacy': 'enhanced_privacy',
    'dataScrubber': 'data_scrubber',
    'dataScrubberDefaults': 'data_scrubber_defaults',
    'scrubIPAddresses': 'scrub_ip_addresses',
    'isEarlyAdopter': 'is_early_adopter',
    'require2FA': 'require_2fa',
}


def _search(query, text: str):  # noqa: ANN001, ANN202
    """Sentry's organization search: free text on name or slug, plus slug: and id: tokens."""
    for token in text.split():
        key, sep, value = token.partition(':')
        if sep and key == 'slug':
            query = query.where(org_table.c.slug == value)
        elif sep and key == 'id':
            number = public_number(value)
            query = query.where(org_table.c.number == (number if number is not None else -1))
        else:
            like = f'%{token.lower()}%'
            query = query.where(or_(org_table.c.name.ilike(like), org_table.c.slug.ilike(like)))
    return query


ORG_LINK = Link('/api/0/organizations/{org}/', {'org': '$response.body#/slug'})


class OrganizationListResource(Resource):
    """Organizations the caller belongs to (a key: its own; a superuser's session: all), oldest first."""

    scopes = ORG_SCOPES
    api = Api(
        get=Op(returns=ok(['Organization']), paged=True,
               query=(Param('member', {'type': 'string'}, '`1` or `true`: only those the caller is a member of.'),
                      Param('query', {'type': 'string'}, 'Name or slug text, `slug:` and `id:` tokens.'))),
        post=Op(body='OrganizationCreate', returns=created('Organization'), links=(ORG_LINK,),
                summary='Create an organization owned by the calling user.'),
    )

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth = self.auth(req)
        member_only = req.get_param('member') in ('1', 'true')
        query = catalog.organizations_visible(
            user_id=auth.user.id if auth.user is not None else None,
            organization_id=auth.api_key.organization_id if auth.api_key is not None else None,
            all_orgs=auth.is_superuser and not member_only,
        )
        query = _search(query, req.get_param('query') or '')
        with self.services.read() as conn:
            respond_with_page(req, resp, self.services.config.url_prefix, conn, query,
                              org_table.c.date_created, organization, tiebreak=org_table.c.number)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        auth = self.auth(req)
        if auth.user is None:
            raise not_authenticated('This endpoint requires user info')
        body = read_fields(req)
        name = fields.string('name', fields.required(body, 'name'), 64)
        slug = fields.optional_string('slug', body.get('slug'), 50)
        outcome = self.services.execute(CreateOrganization(
            name=name, slug=slug or None, owner_id=UUID(auth.user.id), actor=auth.actor(),
            default_team=fields.boolean('defaultTeam', body.get('defaultTeam', False)),
        ))
        with self.services.read() as conn:
            row = organizations.org_by_id(conn, str(outcome.data['organization_id']))
        resp.status = falcon.HTTP_201
        resp.media = organization(row)


class OrganizationResource(Resource):
    """One organization, with the teams and projects the caller may see."""

    scopes = ORG_SCOPES
    api = Api(get=Op(returns=ok('DetailedOrganization')),
              put=Op(body='OrganizationUpdate', returns=ok('DetailedOrganization')),
              delete=Op(returns=NO_CONTENT, summary='Delete the organization (needs a user).'))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        with self.services.read() as conn:
            row = self.access(req).organization(conn, org, self.needed(req))
            resp.media = self._detail(req, conn, row)

    def _detail(self, req: falcon.Request, conn, row) -> dict:  # noqa: ANN001
        access = self.access(req)
        scopes = access.scopes_in(conn, row)
        visible = access.team_ids(conn, row)
        member = access.member(conn, row)
        own_teams = organizations.team_ids_of_member(conn, member.id) if member is not None else set()
        bookmarks = catalog.bookmarked_project_ids(conn, self.auth(req).user.id if self.auth(req).user else None)
        teams, all_projects = [], []
        for team in organizations.teams_of_org(conn, row.id):
            if visible is not None and team.id not in visible:
                continue
            team_projects = [serialize_project(p, is_bookmarked=p.id in bookmarks)
                             for p in catalog.projects_of_teams(conn, [team.id])]
            all_projects += team_projects
            teams.append(team_with_projects(team, team_projects, is_member=team.id in own_teams))
        return detailed_organization(row, access=[s for s in SCOPES if s in scopes], teams=teams,
                                     projects=all_projects)

    def on_put(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        body = read_fields(req)
        with self.services.read() as conn:
            access = self.access(req)
            row = access.organization(conn, org, self.needed(req))
            is_admin = 'org:admin' in access.scopes_in(conn, row)
        changes = self._changes(body, is_admin)
        self.services.execute(UpdateOrganization(organization_id=UUID(row.id), changes=changes,
                                                 actor=self.auth(req).actor()))
        with self.services.read() as conn:
            resp.media = self._detail(req, conn, organizations.org_by_id(conn, row.id))

    @staticmethod
    def _changes(body: dict, is_admin: bool) -> dict:
        changes: dict = {}
        if 'name' in body:
            changes['name'] = fields.string('name', body['name'], 64)
        if 'slug' in body:
            changes['slug'] = fields.string('slug', body['slug'], 50)
        flags = {flag: fields.boolean(name, body[name]) for name, flag in FLAG_FIELDS.items() if name in body}
        if flags:
            changes['flags'] = flags
        for name, column in (('sensitiveFields', 'sensitive_fields'), ('safeFields', 'safe_fields')):
            if name in body:
                changes[column] = fields.string_list(name, body[name])
        if 'accountRateLimit' in body:
            changes['account_rate_limit'] = fields.integer('accountRateLimit', body['accountRateLimit'], 0, 1000000)
        if 'projectRateLimit' in body:
            changes['project_rate_limit'] = fields.integer('projectRateLimit', body['projectRateLimit'], 50, 100)
        if 'defaultRole' in body and is_admin:
            changes['default_role'] = fields.choice('defaultRole', body['defaultRole'], ROLE_ORDER)
        return changes

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        auth = self.auth(req)
        with self.services.read() as conn:
            row = self.access(req).organization(conn, org, self.needed(req))
        if auth.user is None:
            raise not_authenticated('This request requires a user.')
        self.services.execute(DeleteOrganization(organization_id=UUID(row.id), actor=auth.actor()))
        resp.status = falcon.HTTP_204


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [
        ('/api/0/organizations/', OrganizationListResource(services)),
        ('/api/0/organizations/{org}/', OrganizationResource(services)),
    ]
