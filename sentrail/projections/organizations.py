"""Organizations, their members (with team memberships), teams and API keys."""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Column, Connection, Index, Integer, Select, String, Table, delete,
                        insert, or_, select, update)
from sqlalchemy.engine import Row

from sentrail.domain.apikey import ApiKey
from sentrail.domain.credentials import digest
from sentrail.domain.member import Member
from sentrail.domain.organization import DEFAULT_FLAGS, Organization
from sentrail.domain.team import Team
from sentrail.projections.accounts import users
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
    Column('email_key', BigInteger, nullable=False),
    Column('role', String(20), nullable=False),
    Column('date_created', BigInteger, nullable=False),
    Index('ix_members_org_email_key', 'organization_id', 'email_key'),
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

    @handles(Member.Added, Member.Readded)
    def member_added(self, conn: Connection, e: Member.Added | Member.Readded, position: int) -> None:
        member_id = str(e.originator_id)
        conn.execute(delete(members).where(members.c.id == member_id))
        conn.execute(insert(members).values(
            id=member_id, number=e.number, organization_id=str(e.organization_id),
            user_id=str(e.user_id) if e.user_id else None, email=e.email, email_key=email_key(e.email),
            role=e.role, date_created=ms(e.timestamp),
        ))
        self._set_teams(conn, member_id, e.team_ids)

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
        member_id, team_id = str(e.originator_id), str(e.team_id)
        conn.execute(delete(member_teams).where(member_teams.c.member_id == member_id,
                                                member_teams.c.team_id == team_id))
        conn.execute(insert(member_teams).values(member_id=member_id, team_id=team_id))

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


def bytewise(conn: Connection, column):  # noqa: ANN001, ANN201
    """Text in code-point order on every database (PostgreSQL's collation may not be),
    as Sentry's Python-side sorts and our 7-byte email keys are."""
    return column.collate('C') if conn.dialect.name == 'postgresql' else column


def api_keys_of_org(conn: Connection, org_id: str) -> list[Row]:
    """Sorted by label, as Sentry sorts them (in Python: code-point order)."""
    return conn.execute(select(api_keys).where(api_keys.c.organization_id == org_id)
                        .order_by(bytewise(conn, api_keys.c.label), api_keys.c.number)).all()


def api_key_by_number(conn: Connection, org_id: str, number: int) -> Row | None:
    return conn.execute(select(api_keys).where(api_keys.c.organization_id == org_id,
                                               api_keys.c.number == number)).first()


EMAIL_KEY_BYTES = 7


def email_key(email: str) -> int:
    """The member list's keyset key: the email's first 7 bytes as a number.

    It sorts as the emails do and fits the cursor's signed 64 bits; emails that
    share those 7 bytes are ties, which the cursor's offset steps through in
    `email_order`.
    """
    return int.from_bytes(email.lower().encode()[:EMAIL_KEY_BYTES].ljust(EMAIL_KEY_BYTES, b'\0'), 'big')


def email_order(conn: Connection):  # noqa: ANN201
    return bytewise(conn, members.c.email)


def members_query(org_id: str, emails: list[str] | None = None) -> Select:
    """An organization's members (pending invitations included); `emails` narrows to
    those invited under, or whose user now has, one of these addresses."""
    query = select(members).where(members.c.organization_id == org_id)
    if emails:
        wanted = [e.strip().lower() for e in emails]
        linked = select(users.c.id).where(users.c.email.in_(wanted))
        query = query.where(or_(members.c.email.in_(wanted), members.c.user_id.in_(linked)))
    return query


def member_by_number(conn: Connection, org_id: str, number: int) -> Row | None:
    return conn.execute(select(members).where(members.c.organization_id == org_id,
                                              members.c.number == number)).first()


def member_by_id(conn: Connection, member_id: str) -> Row | None:
    return conn.execute(select(members).where(members.c.id == member_id)).first()


def member_by_email(conn: Connection, org_id: str, email: str) -> Row | None:
    return conn.execute(members_query(org_id, [email]).limit(1)).first()


def owner_member_ids(conn: Connection, org_id: str) -> list[str]:
    return list(conn.execute(select(members.c.id).where(members.c.organization_id == org_id,
                                                        members.c.role == 'owner')).scalars())


def users_of_members(conn: Connection, rows: list[Row]) -> dict[str, Row]:
    """The users behind these members (pending invitations have none), by user id."""
    ids = {row.user_id for row in rows if row.user_id}
    if not ids:
        return {}
    return {user.id: user for user in conn.execute(select(users).where(users.c.id.in_(ids)))}


def team_slugs_of_members(conn: Connection, member_ids: list[str]) -> dict[str, list[str]]:
    slugs: dict[str, list[str]] = {member_id: [] for member_id in member_ids}
    if not member_ids:
        return slugs
    query = (select(member_teams.c.member_id, teams.c.slug)
             .join(teams, teams.c.id == member_teams.c.team_id)
             .where(member_teams.c.member_id.in_(member_ids)).order_by(teams.c.slug))
    for member_id, slug in conn.execute(query):
        slugs[member_id].append(slug)
    return slugs


def teams_by_slugs(conn: Connection, org_id: str, slugs: list[str]) -> list[Row]:
    if not slugs:
        return []
    return conn.execute(select(teams).where(teams.c.organization_id == org_id,
                                            teams.c.slug.in_(slugs))).all()


def team_by_slug(conn: Connection, org_id: str, slug: str) -> Row | None:
    return conn.execute(select(teams).where(teams.c.organization_id == org_id,
                                            teams.c.slug == slug)).first()


def teams_of_org(conn: Connection, org_id: str) -> list[Row]:
    return conn.execute(select(teams).where(teams.c.organization_id == org_id)
                        .order_by(teams.c.name, teams.c.slug)).all()
