"""`organizations/{org}/projects/`, `projects/`, `projects/{org}/{project}/` (also
at the overview's numeric `projects/{id}/`) and `projects/{org}/{project}/members/`."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from uuid import UUID

import falcon
from sqlalchemy import Connection
from sqlalchemy.engine import Row

from sentrail.commands.projects import DeleteProject, UpdateProject
from sentrail.domain.sequence import public_number
from sentrail.http import fields
from sentrail.http.auth import Access, Auth
from sentrail.http.errors import FieldErrors, JSONError, not_found
from sentrail.http.openapi import NO_CONTENT, Api, Op, Param, ok
from sentrail.http.pagination import respond_with_page
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.resources.organizations import ORG_SCOPES
from sentrail.http.serializers.members import member
from sentrail.http.serializers.projects import detailed_project, project_with_organization, project_with_team
from sentrail.projections import catalog, organizations, projects
from sentrail.projections.projects import projects as project_table
from sentrail.services import Services

PROJECT_SCOPES = {
    'GET': ('project:read', 'project:write', 'project:admin'),
    'POST': ('project:write', 'project:admin'),
    'PUT': ('project:write', 'project:admin'),
    'DELETE': ('project:admin',),
}

# RelaxedProjectPermission: any project reader may PUT; the fields decide the rest.
RELAXED_PROJECT_SCOPES = {**PROJECT_SCOPES, 'PUT': PROJECT_SCOPES['GET']}

WRITE_SCOPES = frozenset({'project:write', 'project:admin'})

# statsPeriod -> (span, rollup) in seconds, as Sentry's organization project list reads it.
STATS_PERIODS = {'24h': (86400, 3600), '14d': (14 * 86400, 86400), '30d': (30 * 86400, 86400)}
INVALID_STATS_PERIOD = "Invalid stats_period. Valid choices are '', '24h', '14d', and '30d'"


def find_project(access: Access, conn: Connection, org: str, project: str | None,
                 needed: tuple[str, ...] | None) -> tuple[Row, Row]:
    """(organization, project) named by slugs, or with `project` None by the overview's
    numeric id in `org`; 404 when unknown, 403 when the caller may not act on it."""
    if project is None:
        number = public_number(org)
        row = projects.project_by_number(conn, number) if number is not None else None
        org_row = organizations.org_by_id(conn, row.organization_id) if row is not None else None
        if org_row is None:
            raise not_found()
        access.require(conn, org_row, needed)
    else:
        org_row = access.organization(conn, org, needed)
        row = projects.project_by_slug(conn, org_row.id, project)
        if row is None:
            raise not_found()
    access.require_team(conn, org_row, row.team_id)
    return org_row, row


@dataclass(frozen=True)
class Viewer:
    """What the per-caller flags of a project depend on: own bookmarks, own teams."""

    bookmarks: set[str]
    team_ids: set[str]

    @classmethod
    def of(cls, conn: Connection, auth: Auth) -> Viewer:
        user_id = auth.user.id if auth.user is not None else None
        return cls(catalog.bookmarked_project_ids(conn, user_id), catalog.team_ids_of_user(conn, user_id))

    def flags(self, row: Row) -> dict:
        return {'is_bookmarked': row.id in self.bookmarks, 'is_member': row.team_id in self.team_ids}


def team_members(conn: Connection, team_id: str) -> list[dict]:
    return [member(row, user_row) for row, user_row in catalog.members_of_team(conn, team_id)]


def stats_period(req: falcon.Request) -> str | None:
    period = req.get_param('statsPeriod') or ''
    if period and period not in STATS_PERIODS:
        raise JSONError(falcon.HTTP_400, {'error': {'params': {'stats_period': {'message': INVALID_STATS_PERIOD}}}})
    return period or None


def zero_series(period: str, now: float | None = None) -> list[list[int]]:
    """[[ts, 0], ...] over the period at its rollup: event counts are not kept per project yet."""
    span, rollup = STATS_PERIODS[period]
    end = int(now if now is not None else time.time()) // rollup * rollup
    return [[ts, 0] for ts in range(end - span, end + 1, rollup)]


class OrganizationProjectListResource(Resource):
    """Projects of the teams the caller may act on (a key: all of its organization's),
    in creation order, keyset-paginated."""

    scopes = ORG_SCOPES
    api = Api(get=Op(returns=ok(['ProjectWithTeam']), paged=True, query=(
        Param('statsPeriod', {'type': 'string', 'enum': ['', *STATS_PERIODS]}, 'Add each project\'s event series.'),
        Param('query', {'type': 'string'}, '`slug:`, `name:`, `platform:`, `id:`, `team:` tokens or free text.'))))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        period = stats_period(req)
        stats = zero_series(period) if period else None
        with self.services.read() as conn:
            access = self.access(req)
            org_row = access.organization(conn, org, self.needed(req))
            query = catalog.projects_visible([(org_row.id, access.team_ids(conn, org_row))])
            query = catalog.search_projects(query, req.get_param('query') or '')
            viewer = Viewer.of(conn, self.auth(req))
            team_of = cache(lambda team_id: catalog.team_by_id(conn, team_id))

            def serialize(row: Row) -> dict:
                return project_with_team(row, team_of(row.team_id), stats=stats, **viewer.flags(row))

            respond_with_page(req, resp, self.services.config.url_prefix, conn, query, project_table.c.number,
                              serialize, descending=False)


class ProjectListResource(Resource):
    """Every project the caller can see, newest first: a key its organization's, a
    superuser all, a user those of the teams they may act on in their organizations."""

    scopes = {'GET': PROJECT_SCOPES['GET']}
    api = Api(get=Op(returns=ok(['ProjectWithOrganization']), paged=True, query=(
        Param('status', {'type': 'string'}, '`active` (default) or `deleted` (always empty).'),
        Param('query', {'type': 'string'}, '`slug:`, `name:`, `platform:`, `id:` tokens or free text.'))))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        # Deleted projects leave the read model, so `?status=deleted` finds none.
        active = (req.get_param('status') or 'active') == 'active'
        with self.services.read() as conn:
            query = catalog.projects_visible(self._visibility(req, conn) if active else [])
            query = catalog.search_projects(query, req.get_param('query') or '')
            viewer = Viewer.of(conn, self.auth(req))
            org_of = cache(lambda org_id: organizations.org_by_id(conn, org_id))

            def serialize(row: Row) -> dict:
                return project_with_organization(row, org_of(row.organization_id), **viewer.flags(row))

            respond_with_page(req, resp, self.services.config.url_prefix, conn, query,
                              project_table.c.date_created, serialize, tiebreak=project_table.c.number)

    def _visibility(self, req: falcon.Request, conn: Connection) -> catalog.Visibility:
        auth, access = self.auth(req), self.access(req)
        if auth.api_key is not None:
            return [(auth.api_key.organization_id, None)]
        if auth.is_superuser:
            return None
        member_of = conn.execute(catalog.organizations_visible(auth.user.id, None, False)).all()
        return [(org.id, access.team_ids(conn, org)) for org in member_of]


class ProjectResource(Resource):
    """DetailedProject: read by project readers; members may set their bookmark,
    subscription and the platform, project writers everything else too."""

    scopes = RELAXED_PROJECT_SCOPES
    api = Api(get=Op(returns=ok('DetailedProject')), put=Op(body='ProjectUpdate', returns=ok('DetailedProject')),
              delete=Op(returns=NO_CONTENT))

    def _answer(self, req: falcon.Request, conn: Connection, org_row: Row, row: Row) -> dict:
        flags = Viewer.of(conn, self.auth(req)).flags(row)
        return detailed_project(row, catalog.team_by_id(conn, row.team_id), org_row, **flags)

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str | None = None) -> None:
        with self.services.read() as conn:
            org_row, row = find_project(self.access(req), conn, org, project, self.needed(req))
            resp.media = self._answer(req, conn, org_row, row)

    def on_put(self, req: falcon.Request, resp: falcon.Response, org: str, project: str | None = None) -> None:
        body = read_fields(req)
        auth = self.auth(req)
        with self.services.read() as conn:
            access = self.access(req)
            org_row, row = find_project(access, conn, org, project, self.needed(req))
            changes = member_changes(body)
            if access.scopes_in(conn, org_row) & WRITE_SCOPES:
                changes.update(writer_changes(body, conn, access, org_row))
        bookmarked = fields.boolean('isBookmarked', body['isBookmarked']) if 'isBookmarked' in body else None
        self.services.execute(UpdateProject(
            project_id=UUID(row.id), changes=changes, actor=auth.actor(), bookmarked=bookmarked,
            user_id=auth.user.id if auth.user is not None else None,
        ))
        with self.services.read() as conn:
            resp.media = self._answer(req, conn, org_row, projects.project_by_id(conn, row.id))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, project: str | None = None) -> None:
        with self.services.read() as conn:
            _, row = find_project(self.access(req), conn, org, project, self.needed(req))
        self.services.execute(DeleteProject(project_id=UUID(row.id), actor=self.auth(req).actor()))
        resp.status = falcon.HTTP_204


def member_changes(body: dict) -> dict:
    """What any project reader may change (isBookmarked travels beside the changes;
    isSubscribed is validated and accepted, but mail alerts are not kept)."""
    if 'isSubscribed' in body:
        fields.boolean('isSubscribed', body['isSubscribed'])
    if 'platform' in body:
        return {'platform': fields.optional_string('platform', body['platform'], 64) or None}
    return {}


SETTING_FIELDS = {'digestsMinDelay': 'digests_min_delay', 'digestsMaxDelay': 'digests_max_delay'}


def writer_changes(body: dict, conn: Connection, access: Access, org_row: Row) -> dict:
    """What a project:write holder may change; the write side re-checks slug and team."""
    changes: dict = {}
    if 'name' in body:
        changes['name'] = fields.string('name', body['name'], 200)
    if 'slug' in body:
        changes['slug'] = fields.string('slug', body['slug'], 50)
    if 'team' in body:
        changes['team_id'] = UUID(team_for_move(conn, access, org_row, body['team']).id)
    for name, attribute in SETTING_FIELDS.items():
        if name in body:
            changes[attribute] = fields.integer(name, body[name], 60, 3600)
    if 'subjectPrefix' in body:
        changes['subject_prefix'] = fields.optional_string('subjectPrefix', body['subjectPrefix'], 200) or ''
    if 'subjectTemplate' in body:
        changes['subject_template'] = fields.string('subjectTemplate', body['subjectTemplate'], 200)
    if 'options' in body:
        changes['options'] = body['options']
    return changes


def team_for_move(conn: Connection, access: Access, org_row: Row, slug: object) -> Row:
    """A project moves only to a team of its organization that the caller may act on."""
    team = organizations.team_by_slug(conn, org_row.id, slug) if isinstance(slug, str) else None
    allowed = access.team_ids(conn, org_row)
    if team is None or (allowed is not None and team.id not in allowed):
        raise FieldErrors({'team': ['The new team is not found.']})
    return team


class ProjectMemberListResource(Resource):
    """Members of the project's team (not paginated)."""

    scopes = {'GET': PROJECT_SCOPES['GET']}
    api = Api(get=Op(returns=ok(['OrganizationMember'])))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        with self.services.read() as conn:
            _, row = find_project(self.access(req), conn, org, project, self.needed(req))
            resp.media = team_members(conn, row.team_id)


def routes(services: Services) -> list[tuple[str, Resource]]:
    detail = ProjectResource(services)
    return [
        ('/api/0/organizations/{org}/projects/', OrganizationProjectListResource(services)),
        ('/api/0/projects/', ProjectListResource(services)),
        ('/api/0/projects/{org}/', detail),
        ('/api/0/projects/{org}/{project}/', detail),
        ('/api/0/projects/{org}/{project}/members/', ProjectMemberListResource(services)),
    ]
