"""`organizations/{org}/teams/`, `teams/{org}/{team}/` and the team's
`projects/` and `members/`."""
from __future__ import annotations

from collections import defaultdict
from uuid import UUID

import falcon
from sqlalchemy import Connection
from sqlalchemy.engine import Row

from sentrail.commands.organizations import CreateProject, CreateTeam
from sentrail.commands.teams import DeleteTeam, UpdateTeam
from sentrail.http import fields
from sentrail.http.auth import Access
from sentrail.http.errors import not_found
from sentrail.http.openapi import NO_CONTENT, Api, Link, Op, created, ok
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.resources.organizations import ORG_SCOPES
from sentrail.http.resources.projects import PROJECT_SCOPES, Viewer, team_members
from sentrail.http.serializers.projects import project as serialize_project
from sentrail.http.serializers.teams import team as serialize_team
from sentrail.http.serializers.teams import team_detail, team_with_projects
from sentrail.projections import catalog, organizations, projects
from sentrail.services import Services

# OrganizationTeamsPermission: the organization's map, and team:write may create.
ORG_TEAMS_SCOPES = {
    'GET': ORG_SCOPES['GET'],
    'POST': ORG_SCOPES['POST'] + ('team:write',),
    'PUT': ORG_SCOPES['PUT'] + ('team:write',),
    'DELETE': ORG_SCOPES['DELETE'] + ('team:write',),
}

TEAM_SCOPES = {
    'GET': ('team:read', 'team:write', 'team:admin'),
    'POST': ('team:write', 'team:admin'),
    'PUT': ('team:write', 'team:admin'),
    'DELETE': ('team:admin',),
}


def find_team(access: Access, conn: Connection, org: str, team: str,
              needed: tuple[str, ...] | None) -> tuple[Row, Row]:
    """(organization, team) by slugs; 404 when unknown, 403 when the caller may not act on it."""
    org_row = access.organization(conn, org, needed)
    row = organizations.team_by_slug(conn, org_row.id, team)
    if row is None:
        raise not_found()
    access.require_team(conn, org_row, row.id)
    return org_row, row


class OrganizationTeamListResource(Resource):
    """The teams the caller may act on, by name then slug, each with its projects (not paginated)."""

    scopes = ORG_TEAMS_SCOPES
    api = Api(get=Op(returns=ok(['TeamWithProjects'])),
              post=Op(body='TeamCreate', returns=created('Team'), summary='Create a team.',
                      links=(Link('/api/0/teams/{org}/{team}/', {'org': '$request.path.org',
                                                                 'team': '$response.body#/slug'}),
                             Link('/api/0/teams/{org}/{team}/projects/', {'org': '$request.path.org',
                                                                          'team': '$response.body#/slug'}))))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        with self.services.read() as conn:
            access = self.access(req)
            org_row = access.organization(conn, org, self.needed(req))
            rows = catalog.teams_visible(conn, org_row.id, access.team_ids(conn, org_row))
            viewer = Viewer.of(conn, self.auth(req))
            by_team = defaultdict(list)
            for project in catalog.projects_of_teams(conn, [row.id for row in rows]):
                by_team[project.team_id].append(serialize_project(project, **viewer.flags(project)))
            resp.media = [team_with_projects(row, by_team[row.id], is_member=row.id in viewer.team_ids)
                          for row in rows]

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        body = read_fields(req)
        name = fields.string('name', fields.required(body, 'name'), 200)
        slug = fields.optional_string('slug', body.get('slug'), 50)
        auth = self.auth(req)
        with self.services.read() as conn:
            org_row = self.access(req).organization(conn, org, self.needed(req))
        outcome = self.services.execute(CreateTeam(
            organization_id=UUID(org_row.id), name=name, slug=slug or None, actor=auth.actor(),
            creator_id=UUID(auth.user.id) if auth.user is not None else None,
        ))
        with self.services.read() as conn:
            row = catalog.team_by_id(conn, str(outcome.data['team_id']))
            is_member = row.id in Viewer.of(conn, auth).team_ids
        resp.status = falcon.HTTP_201
        resp.media = serialize_team(row, is_member=is_member)


class TeamResource(Resource):
    """One team, with its organization."""

    scopes = TEAM_SCOPES
    api = Api(get=Op(returns=ok('TeamDetail')), put=Op(body='TeamUpdate', returns=ok('Team')),
              delete=Op(returns=NO_CONTENT))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, team: str) -> None:
        with self.services.read() as conn:
            org_row, row = find_team(self.access(req), conn, org, team, self.needed(req))
            is_member = row.id in Viewer.of(conn, self.auth(req)).team_ids
            resp.media = team_detail(row, org_row, is_member=is_member)

    def on_put(self, req: falcon.Request, resp: falcon.Response, org: str, team: str) -> None:
        body = read_fields(req)
        changes = {}
        if 'name' in body:
            changes['name'] = fields.string('name', body['name'], 200)
        if 'slug' in body:
            changes['slug'] = fields.string('slug', body['slug'], 50)
        with self.services.read() as conn:
            _, row = find_team(self.access(req), conn, org, team, self.needed(req))
        self.services.execute(UpdateTeam(team_id=UUID(row.id), changes=changes, actor=self.auth(req).actor()))
        with self.services.read() as conn:
            row = catalog.team_by_id(conn, row.id)
            resp.media = serialize_team(row, is_member=row.id in Viewer.of(conn, self.auth(req)).team_ids)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, team: str) -> None:
        """The team's projects go with it, in the same write (Sentry schedules them too)."""
        with self.services.read() as conn:
            _, row = find_team(self.access(req), conn, org, team, self.needed(req))
            project_ids = tuple(p.id for p in catalog.projects_of_teams(conn, [row.id]))
        self.services.execute(DeleteTeam(team_id=UUID(row.id), project_ids=project_ids,
                                         actor=self.auth(req).actor()))
        resp.status = falcon.HTTP_204


class TeamProjectListResource(Resource):
    """The team's projects (not paginated), and creating one in it."""

    scopes = PROJECT_SCOPES
    api = Api(get=Op(returns=ok(['Project'])),
              post=Op(body='ProjectCreate', returns=created('Project'), summary='Create a project in the team.',
                      links=(Link('/api/0/projects/{org}/{project}/', {'org': '$request.path.org',
                                                                       'project': '$response.body#/slug'}),
                             Link('/api/0/projects/{org}/{project}/keys/',
                                  {'org': '$request.path.org', 'project': '$response.body#/slug'}),
                             Link('/api/0/projects/{org}/{project}/releases/',
                                  {'org': '$request.path.org', 'project': '$response.body#/slug'}))))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, team: str) -> None:
        with self.services.read() as conn:
            _, row = find_team(self.access(req), conn, org, team, self.needed(req))
            viewer = Viewer.of(conn, self.auth(req))
            resp.media = [serialize_project(p, **viewer.flags(p)) for p in catalog.projects_of_teams(conn, [row.id])]

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str, team: str) -> None:
        body = read_fields(req)
        name = fields.string('name', fields.required(body, 'name'), 200)
        slug = fields.optional_string('slug', body.get('slug'), 50)
        platform = fields.optional_string('platform', body.get('platform'), 64)
        with self.services.read() as conn:
            _, row = find_team(self.access(req), conn, org, team, self.needed(req))
        outcome = self.services.execute(CreateProject(team_id=UUID(row.id), name=name, slug=slug or None,
                                                      platform=platform or None, actor=self.auth(req).actor()))
        with self.services.read() as conn:
            created = projects.project_by_id(conn, str(outcome.data['project_id']))
            resp.media = serialize_project(created, **Viewer.of(conn, self.auth(req)).flags(created))
        resp.status = falcon.HTTP_201


class TeamMemberListResource(Resource):
    """The team's members as OrganizationMember, by display name (not paginated)."""

    scopes = {'GET': TEAM_SCOPES['GET']}
    api = Api(get=Op(returns=ok(['OrganizationMember'])))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, team: str) -> None:
        with self.services.read() as conn:
            _, row = find_team(self.access(req), conn, org, team, self.needed(req))
            resp.media = team_members(conn, row.id)


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [
        ('/api/0/organizations/{org}/teams/', OrganizationTeamListResource(services)),
        ('/api/0/teams/{org}/{team}/', TeamResource(services)),
        ('/api/0/teams/{org}/{team}/projects/', TeamProjectListResource(services)),
        ('/api/0/teams/{org}/{team}/members/', TeamMemberListResource(services)),
    ]
