"""Queries over a project's client keys (the table and its handlers live in projects.py)."""
from __future__ import annotations

from sqlalchemy import Connection, Select, false, select
from sqlalchemy.engine import Row

from sentrail.projections.projects import project_keys

SORT_KEY = project_keys.c.number


def keys_query(project_id: str, status: str | None) -> Select:
    """Sentry's key list filter: `active`, `inactive`, nothing for all, and any
    other value matches no key."""
    query = select(project_keys).where(project_keys.c.project_id == project_id)
    if status == 'active':
        return query.where(project_keys.c.is_active.is_(True))
    if status == 'inactive':
        return query.where(project_keys.c.is_active.is_(False))
    return query.where(false()) if status else query


def key_of_project(conn: Connection, project_id: str, public: str) -> Row | None:
    return conn.execute(select(project_keys).where(project_keys.c.project_id == project_id,
                                                   project_keys.c.public == public)).first()
