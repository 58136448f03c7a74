"""`organizations/{org}/members/`, `…/members/{member}/` and `…/members/{member}/teams/{team}/`.

{member} is the member's public number, or `me` for the calling user. A caller's
standing is the highest role it may grant or act upon: a user's own role in the
organization (a superuser's: owner), and for an API key `manager`: a key may do
what a manager may but neither make nor touch an owner, since it stands for no
person (Sentry 8.22 had no rule for keys here; its code assumed a user).
"""
from __future__ import annotations

from uuid import UUID

import falcon
from sqlalchemy.engine import Row

from sentrail.commands.accounts import normalize_email
from sentrail.commands.members import (ASSIGN_REFUSED, INVITE_REFUSED, InviteMember, JoinTeam, LeaveTeam,
                                       RemoveMember, UpdateMember)
from sentrail.domain.roles import ROLE_ORDER, outranks
from sentrail.domain.sequence import public_number
from sentrail.http import fields
from sentrail.http.auth import Access
from sentrail.http.errors import FieldErrors, JSONError, forbidden, not_found
from sentrail.http.openapi import NO_CONTENT, Api, Link, Op, Param, created, ok
from sentrail.http.pagination import cursor_param, page_size, set_link
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.serializers.members import allowed_roles
from sentrail.http.serializers.members import member as serialize_member
from sentrail.http.serializers.projects import project as serialize_project
from sentrail.http.serializers.teams import team_with_projects
from sentrail.projections import catalog, organizations
from sentrail.projections.keyset import paginate
from sentrail.services import Services

MEMBER_READ = ('member:read', 'member:write', 'member:admin')
MEMBER_WRITE = ('member:write', 'member:admin')
ORG_OR_MEMBER = ('org:read', 'org:write', 'org:admin') + MEMBER_READ

MEMBER_SCOPES = {'GET': MEMBER_READ, 'POST': MEMBER_WRITE, 'PUT': MEMBER_WRITE, 'DELETE': ('member:admin',)}
RELAXED_MEMBER_SCOPES = {'GET': MEMBER_READ, 'PUT': MEMBER_WRITE, 'DELETE': MEMBER_READ}
RELAXED_ORG_SCOPES = {'POST': ORG_OR_MEMBER, 'DELETE': ORG_OR_MEMBER}

MISSING_ADMIN = 'You are missing the member:admin scope.'
NOT_YOURSELF = 'You cannot modify a member other than yourself.'
CLOSED_TEAMS = 'You do not have permission to join that team.'
KEY_CEILING = 'manager'


def ceiling(conn, access: Access, org: Row) -> str | None:  # noqa: ANN001
    auth = access.auth
    if auth.api_key is not None:
        return KEY_CEILING if auth.api_key.organization_id == org.id else None
    if auth.is_superuser:
        return 'owner'
    member = access.member(conn, org)
    return member.role if member is not None else None


def find_member(conn, access: Access, org: Row, member: str) -> Row:  # noqa: ANN001
    if member == 'me':
        row = access.member(conn, org)
    else:
        number = public_number(member)
        row = organizations.member_by_number(conn, org.id, number) if number is not None else None
    if row is None:
        raise not_found()
    return row


def is_self(access: Access, row: Row) -> bool:
    return access.auth.user is not None and row.user_id == access.auth.user.id


def team_ids_for(conn, org: Row, slugs: list[str]) -> tuple[UUID, ...]:  # noqa: ANN001
    """Sentry answers an unknown slug with a bare string, not a list."""
    found = organizations.teams_by_slugs(conn, org.id, slugs)
    if len(found) != len(set(slugs)):
        raise FieldErrors({'teams': 'Invalid team'})
    by_slug = {team.slug: UUID(team.id) for team in found}
    return tuple(dict.fromkeys(by_slug[slug] for slug in slugs))


def owner_hint(conn, org: Row) -> tuple[UUID, ...]:  # noqa: ANN001
    return tuple(UUID(m) for m in organizations.owner_member_ids(conn, org.id))


def render(conn, rows: list[Row]) -> list[dict]:  # noqa: ANN001
    users = organizations.users_of_members(conn, rows)
    teams = organizations.team_slugs_of_members(conn, [row.id for row in rows])
    return [serialize_member(row, users.get(row.user_id), teams=teams[row.id]) for row in rows]


def emails_in(query: str) -> list[str]:
    """Sentry's member search understands `email:<addr>` tokens only."""
    return [value for key, sep, value in (token.partition(':') for token in query.split())
            if sep and key == 'email']


class MemberListResource(Resource):
    """The organization's members and pending invitations."""

    scopes = MEMBER_SCOPES
    api = Api(
        get=Op(returns=ok(['OrganizationMember']), paged=True,
               query=(Param('query', {'type': 'string'}, '`email:<address>` tokens.'),)),
        post=Op(body='MemberInvite', returns=created('OrganizationMember'), summary='Invite a member.',
                links=(Link('/api/0/organizations/{org}/members/{member}/',
                            {'org': '$request.path.org', 'member': '$response.body#/id'}),)),
    )

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        """Members and pending invitations, by email, keyset-paginated on the email's leading bytes."""
        emails = emails_in(req.get_param('query') or '')
        with self.services.read() as conn:
            org_row = self.access(req).organization(conn, org, self.needed(req))
            page = paginate(conn, organizations.members_query(org_row.id, emails),
                            organizations.members.c.email_key, descending=False, cursor=cursor_param(req),
                            limit=page_size(req), tiebreak=organizations.email_order(conn))
            set_link(resp, req, self.services.config.url_prefix, page)
            resp.media = render(conn, page.rows)

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        body = read_fields(req)
        email = normalize_email(fields.string('email', fields.required(body, 'email'), 75))
        role = fields.choice('role', fields.required(body, 'role'), ROLE_ORDER)
        slugs = fields.string_list('teams', body['teams'] if body.get('teams') is not None else [])
        access = self.access(req)
        with self.services.read() as conn:
            org_row = access.organization(conn, org, self.needed(req))
            team_ids = team_ids_for(conn, org_row, slugs)
            top = ceiling(conn, access, org_row)
            if top is None or outranks(role, top):
                raise JSONError(falcon.HTTP_403, {'role': INVITE_REFUSED})
            if organizations.member_by_email(conn, org_row.id, email) is not None:
                raise JSONError(falcon.HTTP_409, {'email': f'The user {body["email"]} is already a member'})
            hint = owner_hint(conn, org_row)
        outcome = self.services.execute(InviteMember(
            organization_id=UUID(org_row.id), email=email, role=role, team_ids=team_ids, max_role=top,
            owner_hint=hint, actor=self.auth(req).actor(),
        ))
        with self.services.read() as conn:
            resp.media = render(conn, [organizations.member_by_id(conn, str(outcome.data['member_id']))])[0]
        resp.status = falcon.HTTP_201


class MemberResource(Resource):
    """One member, with the roles the caller could give them."""

    scopes = RELAXED_MEMBER_SCOPES
    api = Api(get=Op(returns=ok('OrganizationMemberDetail')),
              put=Op(body='MemberUpdate', returns={200: 'OrganizationMemberDetail', 204: None}),
              delete=Op(returns=NO_CONTENT, summary='Remove a member, or leave.'))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, member: str) -> None:
        access = self.access(req)
        with self.services.read() as conn:
            org_row = access.organization(conn, org, self.needed(req))
            row = find_member(conn, access, org_row, member)
            resp.media = self._detail(conn, access, org_row, row)

    @staticmethod
    def _detail(conn, access: Access, org: Row, row: Row) -> dict:  # noqa: ANN001
        """The member, and which roles the caller could give them."""
        top = ceiling(conn, access, org)
        may_change = (bool(access.scopes_in(conn, org).intersection(MEMBER_WRITE)) and top is not None
                      and not outranks(row.role, top))
        return {**render(conn, [row])[0], 'allowed_roles': allowed_roles(top if may_change else None)}

    def on_put(self, req: falcon.Request, resp: falcon.Response, org: str, member: str) -> None:
        """`reinvite` alone answers 204 as Sentry; a `role` or `teams` change answers the member."""
        body = read_fields(req)
        reinvite = fields.boolean('reinvite', body['reinvite']) if 'reinvite' in body else False
        role = fields.choice('role', body['role'], ROLE_ORDER) if 'role' in body else None
        slugs = fields.string_list('teams', body['teams']) if 'teams' in body else None
        changes = role is not None or slugs is not None
        access = self.access(req)
        with self.services.read() as conn:
            org_row = access.organization(conn, org, self.needed(req))
            row = find_member(conn, access, org_row, member)
            top = self._standing(conn, access, org_row, role) if changes else None
            team_ids = team_ids_for(conn, org_row, slugs) if slugs is not None else None
            hint = owner_hint(conn, org_row)
        if changes or reinvite:
            self.services.execute(UpdateMember(
                member_id=UUID(row.id), max_role=top, role=role, team_ids=team_ids, reinvite=reinvite,
                owner_hint=hint, actor=self.auth(req).actor(),
            ))
        if not changes:
            resp.status = falcon.HTTP_204
            return
        with self.services.read() as conn:
            resp.media = self._detail(conn, access, org_row, organizations.member_by_id(conn, row.id))

    @staticmethod
    def _standing(conn, access: Access, org: Row, role: str | None) -> str:  # noqa: ANN001
        """Changing a role or teams takes member:admin, and no role above the caller's own."""
        top = ceiling(conn, access, org)
        if 'member:admin' not in access.scopes_in(conn, org) or top is None:
            raise falcon.HTTPBadRequest(description=MISSING_ADMIN)
        if role is not None and outranks(role, top):
            raise JSONError(falcon.HTTP_403, {'role': ASSIGN_REFUSED})
        return top

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, member: str) -> None:
        """Anyone may leave; removing someone else takes member:admin and at least their role."""
        access = self.access(req)
        with self.services.read() as conn:
            org_row = access.organization(conn, org, self.needed(req))
            row = find_member(conn, access, org_row, member)
            top = None if is_self(access, row) else self._standing(conn, access, org_row, None)
            hint = owner_hint(conn, org_row)
        self.services.execute(RemoveMember(member_id=UUID(row.id), max_role=top, owner_hint=hint,
                                           actor=self.auth(req).actor()))
        resp.status = falcon.HTTP_204


class MemberTeamResource(Resource):
    """Join or leave a team: the member themself, or a caller with member:admin
    who holds at least the member's role (Sentry 8.22 allowed only the former)."""

    scopes = RELAXED_ORG_SCOPES
    api = Api(post=Op(returns={201: 'TeamWithProjects', 204: None}, summary='Join the team.'),
              delete=Op(returns=ok('TeamWithProjects'), summary='Leave the team.'))

    def _resolve(self, conn, access: Access, org: str, member: str, team: str,  # noqa: ANN001
                 needed: tuple[str, ...] | None) -> tuple[Row, Row, Row]:
        org_row = access.organization(conn, org, needed)
        row = find_member(conn, access, org_row, member)
        if not self._may_act_for(conn, access, org_row, row):
            raise falcon.HTTPBadRequest(description=NOT_YOURSELF)
        team_row = organizations.team_by_slug(conn, org_row.id, team)
        if team_row is None:
            raise not_found()
        return org_row, row, team_row

    @staticmethod
    def _may_act_for(conn, access: Access, org: Row, row: Row) -> bool:  # noqa: ANN001
        if is_self(access, row) or access.auth.is_superuser:
            return True
        top = ceiling(conn, access, org)
        return 'member:admin' in access.scopes_in(conn, org) and top is not None and not outranks(row.role, top)

    def _team(self, conn, req: falcon.Request, access: Access, org: Row, team: Row) -> dict:  # noqa: ANN001
        """TeamWithProjects, `isMember` and bookmarks as the caller sees them."""
        user = self.auth(req).user
        bookmarks = catalog.bookmarked_project_ids(conn, user.id if user is not None else None)
        projects = [serialize_project(p, is_bookmarked=p.id in bookmarks)
                    for p in catalog.projects_of_teams(conn, [team.id])]
        caller = access.member(conn, org)
        is_member = caller is not None and team.id in organizations.team_ids_of_member(conn, caller.id)
        return team_with_projects(team, projects, is_member=is_member)

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str, member: str, team: str) -> None:
        """201 joined; 204 already a member. Without org:write in a closed
        organization Sentry would file an access request (202); sentrail has none: 403."""
        access = self.access(req)
        with self.services.read() as conn:
            org_row, row, team_row = self._resolve(conn, access, org, member, team, self.needed(req))
            already = team_row.id in organizations.team_ids_of_member(conn, row.id)
            if not already and 'org:write' not in access.scopes_in(conn, org_row) \
                    and not org_row.flags.get('open_membership'):
                raise forbidden(CLOSED_TEAMS)
        joined = not already and self.services.execute(JoinTeam(
            member_id=UUID(row.id), team_id=UUID(team_row.id), actor=self.auth(req).actor())).data['joined']
        if not joined:
            resp.status = falcon.HTTP_204
            return
        with self.services.read() as conn:
            resp.media = self._team(conn, req, access, org_row, team_row)
        resp.status = falcon.HTTP_201

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, member: str, team: str) -> None:
        access = self.access(req)
        with self.services.read() as conn:
            org_row, row, team_row = self._resolve(conn, access, org, member, team, self.needed(req))
        self.services.execute(LeaveTeam(member_id=UUID(row.id), team_id=UUID(team_row.id),
                                        actor=self.auth(req).actor()))
        with self.services.read() as conn:
            resp.media = self._team(conn, req, access, org_row, team_row)


def routes(services: Services) -> list[tuple[str, Resource]]:
    return [
        ('/api/0/organizations/{org}/members/', MemberListResource(services)),
        ('/api/0/organizations/{org}/members/{member}/', MemberResource(services)),
        ('/api/0/organizations/{org}/members/{member}/teams/{team}/', MemberTeamResource(services)),
    ]
