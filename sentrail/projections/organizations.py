"""Organizations, their members (with team memberships), teams and API keys."""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Column, Connection, Integer, String, Table, delete, insert,
                        select, update)
from sqlalchemy.engine import Row

from sentrail.domain.apikey import ApiKey
from sentrail.domain.credentials import digest
from sentrail.domain.member import Member
from sentrail.domain.organization import DEFAULT_FLAGS, Organization
from sentrail.domain.team import Team
from sentrail.projections.base import Projection, handles
from sentrail.projections.clock import ms
from sentrail.projections.schema import metadata

organizations = Table(
    'organizations', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('slug', String(64), nullable=False, unique=True),
    Column('name', String(200), nullable=False),
    Column('default_role', String(20), nullable=False),
    Column('flags', JSON, nullable=False),
    Column('sensitive_fields', JSON, nullable=False),
    Column('safe_fields', JSON, nullable=False),
    Column('account_rate_limit', Integer, nullable=False),
    Column('project_rate_limit', Integer, nullable=False),
    Column('date_created', BigInteger, nullable=False, index=True),
)

members = Table(
    'members', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('organization_id', String(36), nullable=False, index=True),
    Column('user_id', String(36), index=True),
    Column('email', String(200), nullable=False),
    Column('role', String(20), nullable=False),
    Column('date_created', BigInteger, nullable=False),
)

member_teams = Table(
    'member_teams', metadata,
    Column('member_id', String(36), primary_key=True),
    Column('team_id', String(36), primary_key=True, index=True),
)

teams = Table(
    'teams', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('organization_id', String(36), nullable=False, index=True),
    Column('slug', String(64), nullable=False),
    Column('name', String(200), nullable=False),
    Column('date_created', BigInteger, nullable=False),
)

api_keys = Table(
    'api_keys', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('organization_id', String(36), nullable=False, index=True),
    Column('key', String(64), nullable=False),
    Column('key_hash', String(64), nullable=False, unique=True),
    Column('label', String(200), nullable=False),
    Column('scopes', JSON, nullable=False),
    Column('allowed_origins', String(2000), nullable=False, default=''),
    Column('status', Integer, nullable=False, default=0),
    Column('date_created', BigInteger, nullable=False),
)

ORG_FIELDS = ('slug', 'name', 'default_role', 'flags', 'sensitive_fields', 'safe_fields',
              'account_rate_limit', 'project_rate_limit')


def _pick(changes: dict, names: tuple[str, ...]) -> dict:
    return {k: v for k, v in changes.items() if k in names}


class OrganizationProjection(Projection):
    name = 'organizations'
    tables = (organizations, members, member_teams, teams, api_keys)

    @handles(Organization.Created)
    def org_created(self, conn: Connection, e: Organization.Created, position: int) -> None:
        conn.execute(insert(organizations).values(
            id=str(e.originator_id), number=e.number, slug=e.slug, name=e.name, default_role='member',
            flags=dict(DEFAULT_FLAGS), sensitive_fields=[], safe_fields=[], account_rate_limit=0,
            project_rate_limit=100, date_created=ms(e.timestamp),
        ))

    @handles(Organization.Updated)
    def org_updated(self, conn: Connection, e: Organization.Updated, position: int) -> None:
        fields = _pick(e.changes, ORG_FIELDS)
        if fields:
            conn.execute(update(organizations).where(organizations.c.id == str(e.originator_id))
                         .values(**fields))

    @handles(Organization.Deleted)
    def org_deleted(self, conn: Connection, e: Organization.Deleted, position: int) -> None:
        org_id = str(e.originator_id)
        conn.execute(delete(organizations).where(organizations.c.id == org_id))
        conn.execute(delete(api_keys).where(api_keys.c.organization_id == org_id))

    @handles(Member.Added)
    def member_added(self, conn: Connection, e: Member.Added, position: int) -> None:
        conn.execute(insert(members).values(
            id=str(e.originator_id), number=e.number, organization_id=str(e.organization_id),
            user_id=str(e.user_id) if e.user_id else None, email=e.email, role=e.role,
            date_created=ms(e.timestamp),
        ))
        self._set_teams(conn, str(e.originator_id), e.team_ids)

    @handles(Member.Readded)
    def member_readded(self, conn: Connection, e: Member.Readded, position: int) -> None:
        conn.execute(update(members).where(members.c.id == str(e.originator_id)).values(
            number=e.number, user_id=str(e.user_id) if e.user_id else None, role=e.role,
            date_created=ms(e.timestamp),
        ))
        self._set_teams(conn, str(e.originator_id), e.team_ids)

    def _set_teams(self, conn: Connection, member_id: str, team_ids: list) -> None:
        conn.execute(delete(member_teams).where(member_teams.c.member_id == member_id))
        for team_id in dict.fromkeys(team_ids):
            conn.execute(insert(member_teams).values(member_id=member_id, team_id=str(team_id)))

    @handles(Member.Updated)
    def member_updated(self, conn: Connection, e: Member.Updated, position: int) -> None:
        fields = _pick(e.changes, ('role', 'user_id'))
        if 'user_id' in fields and fields['user_id'] is not None:
            fields['user_id'] = str(fields['user_id'])
        if fields:
            conn.execute(update(members).where(members.c.id == str(e.originator_id)).values(**fields))

    @handles(Member.Deleted)
    def member_removed(self, conn: Connection, e: Member.Deleted, position: int) -> None:
        conn.execute(delete(members).where(members.c.id == str(e.originator_id)))
        conn.execute(delete(member_teams).where(member_teams.c.member_id == str(e.originator_id)))

    @handles(Member.TeamJoined)
    def team_joined(self, conn: Connection, e: Member.TeamJoined, position: int) -> None:
        conn.execute(insert(member_teams).values(member_id=str(e.originator_id), team_id=str(e.team_id)))

    @handles(Member.TeamLeft)
    def team_left(self, conn: Connection, e: Member.TeamLeft, position: int) -> None:
        conn.execute(delete(member_teams).where(member_teams.c.member_id == str(e.originator_id),
                                                member_teams.c.team_id == str(e.team_id)))

    @handles(Team.Created)
    def team_created(self, conn: Connection, e: Team.Created, position: int) -> None:
        conn.execute(insert(teams).values(
            id=str(e.originator_id), number=e.number, organization_id=str(e.organization_id),
            slug=e.slug, name=e.name, date_created=ms(e.timestamp),
        ))

    @handles(Team.Updated)
    def team_updated(self, conn: Connection, e: Team.Updated, position: int) -> None:
        fields = _pick(e.changes, ('slug', 'name'))
        if fields:
            conn.execute(update(teams).where(teams.c.id == str(e.originator_id)).values(**fields))

    @handles(Team.Deleted)
    def team_deleted(self, conn: Connection, e: Team.Deleted, position: int) -> None:
        conn.execute(delete(teams).where(teams.c.id == str(e.originator_id)))
        conn.execute(delete(member_teams).where(member_teams.c.team_id == str(e.originator_id)))

    @handles(ApiKey.Created)
    def key_created(self, conn: Connection, e: ApiKey.Created, position: int) -> None:
        conn.execute(insert(api_keys).values(
            id=str(e.originator_id), number=e.number, organization_id=str(e.organization_id),
            key=e.key, key_hash=digest(e.key), label=e.label, scopes=list(e.scopes), allowed_origins='', status=0,
            date_created=ms(e.timestamp),
        ))

    @handles(ApiKey.Updated)
    def key_updated(self, conn: Connection, e: ApiKey.Updated, position: int) -> None:
        fields = _pick(e.changes, ('label', 'scopes', 'allowed_origins', 'status'))
        if fields:
            conn.execute(update(api_keys).where(api_keys.c.id == str(e.originator_id)).values(**fields))

    @handles(ApiKey.Deleted)
    def key_deleted(self, conn: Connection, e: ApiKey.Deleted, position: int) -> None:
        conn.execute(delete(api_keys).where(api_keys.c.id == str(e.originator_id)))


def org_by_slug(conn: Connection, slug: str) -> Row | None:
    return conn.execute(select(organizations).where(organizations.c.slug == slug)).first()


def org_by_id(conn: Connection, org_id: str) -> Row | None:
    return conn.execute(select(organizations).where(organizations.c.id == org_id)).first()


def membership(conn: Connection, org_id: str, user_id: str) -> Row | None:
    return conn.execute(select(members).where(members.c.organization_id == org_id,
                                              members.c.user_id == user_id)).first()


def team_ids_of_member(conn: Connection, member_id: str) -> set[str]:
    return set(conn.execute(select(member_teams.c.team_id)
                            .where(member_teams.c.member_id == member_id)).scalars())


def api_key_by_secret(conn: Connection, key: str) -> Row | None:
    return conn.execute(select(api_keys).where(api_keys.c.key_hash == digest(key))).first()


def team_by_slug(conn: Connection, org_id: str, slug: str) -> Row | None:
    return conn.execute(select(teams).where(teams.c.organization_id == org_id,
                                            teams.c.slug == slug)).first()


def teams_of_org(conn: Connection, org_id: str) -> list[Row]:
    return conn.execute(select(teams).where(teams.c.organization_id == org_id)
                        .order_by(teams.c.name, teams.c.slug)).all()
