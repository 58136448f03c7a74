"""Queries that join organizations, teams and projects for listings."""
from __future__ import annotations

from sqlalchemy import Connection, Select, and_, false, func, or_, select
from sqlalchemy.engine import Row

from sentrail.domain.sequence import public_number
from sentrail.projections.accounts import users
from sentrail.projections.organizations import member_teams, members, organizations, teams
from sentrail.projections.projects import project_bookmarks, projects


def organizations_visible(user_id: str | None, organization_id: str | None, all_orgs: bool) -> Select:
    """Organizations a caller sees: a key its own, a user those it belongs to
    (superusers every one, unless they asked for membership only)."""
    query = select(organizations)
    if organization_id is not None:
        return query.where(organizations.c.id == organization_id)
    if all_orgs:
        return query
    member_of = select(members.c.organization_id).where(members.c.user_id == user_id)
    return query.where(organizations.c.id.in_(member_of))


def projects_of_teams(conn: Connection, team_ids: list[str]) -> list[Row]:
    if not team_ids:
        return []
    return conn.execute(select(projects).where(projects.c.team_id.in_(team_ids))
                        .order_by(projects.c.name, projects.c.slug)).all()


def bookmarked_project_ids(conn: Connection, user_id: str | None) -> set[str]:
    if user_id is None:
        return set()
    return set(conn.execute(select(project_bookmarks.c.project_id)
                            .where(project_bookmarks.c.user_id == user_id)).scalars())


def team_by_id(conn: Connection, team_id: str) -> Row | None:
    return conn.execute(select(teams).where(teams.c.id == team_id)).first()


Visibility = list[tuple[str, 'set[str] | None']] | None


def projects_visible(visibility: Visibility) -> Select:
    """Projects in the given (organization, teams) pairs; teams None means every
    team of that organization, visibility None every project of a live organization."""
    query = select(projects)
    if visibility is None:
        return query.where(projects.c.organization_id.in_(select(organizations.c.id)))
    allowed = [projects.c.organization_id == org_id if team_ids is None
               else and_(projects.c.organization_id == org_id, projects.c.team_id.in_(team_ids))
               for org_id, team_ids in visibility]
    return query.where(or_(*allowed) if allowed else false())


SEARCH_KEYS = {'slug': projects.c.slug, 'name': projects.c.name, 'platform': projects.c.platform}


def search_projects(query: Select, text: str) -> Select:
    """Sentry's project search: `slug:`, `name:`, `platform:` (any of the values,
    case-insensitively), `id:` (public ids) and free text on name or slug."""
    terms: dict[str, list[str]] = {}
    words = []
    for token in text.split():
        key, sep, value = token.partition(':')
        if sep and key in (*SEARCH_KEYS, 'id'):
            terms.setdefault(key, []).append(value)
        elif not sep:
            words.append(token)
    for key, values in terms.items():
        if key == 'id':
            query = query.where(projects.c.number.in_([n for n in map(public_number, values) if n is not None]))
        else:
            query = query.where(func.lower(SEARCH_KEYS[key]).in_([v.lower() for v in values]))
    if words:
        like = f'%{" ".join(words).lower()}%'
        query = query.where(or_(func.lower(projects.c.name).like(like), func.lower(projects.c.slug).like(like)))
    return query


def teams_visible(conn: Connection, org_id: str, team_ids: set[str] | None) -> list[Row]:
    query = select(teams).where(teams.c.organization_id == org_id)
    if team_ids is not None:
        query = query.where(teams.c.id.in_(team_ids))
    return conn.execute(query.order_by(teams.c.name, teams.c.slug)).all()


def team_ids_of_user(conn: Connection, user_id: str | None) -> set[str]:
    """Every team the user is a member of, in any organization (for `isMember`)."""
    if user_id is None:
        return set()
    return set(conn.execute(select(member_teams.c.team_id).join(members, members.c.id == member_teams.c.member_id)
                            .where(members.c.user_id == user_id)).scalars())


def teams_by_ids(conn: Connection, team_ids: set[str]) -> dict[str, Row]:
    if not team_ids:
        return {}
    return {row.id: row for row in conn.execute(select(teams).where(teams.c.id.in_(team_ids)))}


def organizations_by_ids(conn: Connection, org_ids: set[str]) -> dict[str, Row]:
    if not org_ids:
        return {}
    return {row.id: row for row in conn.execute(select(organizations).where(organizations.c.id.in_(org_ids)))}


def members_of_team(conn: Connection, team_id: str) -> list[tuple[Row, Row | None]]:
    """(member, user) pairs of one team, sorted by display name as Sentry lists them."""
    rows = conn.execute(select(members).join(member_teams, member_teams.c.member_id == members.c.id)
                        .where(member_teams.c.team_id == team_id)).all()
    user_ids = {row.user_id for row in rows if row.user_id}
    found = {u.id: u for u in conn.execute(select(users).where(users.c.id.in_(user_ids)))} if user_ids else {}
    pairs = [(row, found.get(row.user_id)) for row in rows]
    return sorted(pairs, key=lambda pair: ((pair[1].name if pair[1] else '') or pair[0].email).lower())
