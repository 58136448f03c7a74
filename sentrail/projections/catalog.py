"""Queries that join organizations, teams and projects for listings."""
from __future__ import annotations

from sqlalchemy import Connection, Select, select
from sqlalchemy.engine import Row

from sentrail.projections.organizations import members, organizations, teams
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
