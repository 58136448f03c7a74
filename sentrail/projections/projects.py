"""Projects, who bookmarked them, and their client keys (DSNs)."""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Connection, Integer, String, Table, delete,
                        insert, select, update)
from sqlalchemy.engine import Row

from sentrail.domain.apikey import ProjectKey
from sentrail.domain.project import DEFAULT_OPTIONS, Project
from sentrail.projections.base import Projection, handles
from sentrail.projections.clock import ms
from sentrail.projections.schema import metadata

projects = Table(
    'projects', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('organization_id', String(36), nullable=False, index=True),
    Column('team_id', String(36), nullable=False, index=True),
    Column('slug', String(64), nullable=False),
    Column('name', String(200), nullable=False),
    Column('platform', String(64)),
    Column('options', JSON, nullable=False),
    Column('settings', JSON, nullable=False),
    Column('first_event', BigInteger),
    Column('date_created', BigInteger, nullable=False, index=True),
)

project_bookmarks = Table(
    'project_bookmarks', metadata,
    Column('project_id', String(36), primary_key=True),
    Column('user_id', String(36), primary_key=True),
)

project_keys = Table(
    'project_keys', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('project_id', String(36), nullable=False, index=True),
    Column('project_number', Integer, nullable=False),
    Column('public', String(64), nullable=False, unique=True),
    Column('secret', String(64), nullable=False),
    Column('name', String(200), nullable=False),
    Column('is_active', Boolean, nullable=False),
    Column('rate_limit', JSON),
    Column('date_created', BigInteger, nullable=False),
)

SETTINGS = ('subject_prefix', 'subject_template', 'digests_min_delay', 'digests_max_delay')
DEFAULT_SETTINGS = {'subject_prefix': '', 'subject_template': '[$project] ${tag:level}: $title',
                    'digests_min_delay': 300, 'digests_max_delay': 1800}


class ProjectProjection(Projection):
    name = 'projects'
    tables = (projects, project_bookmarks, project_keys)

    @handles(Project.Created)
    def created(self, conn: Connection, e: Project.Created, position: int) -> None:
        conn.execute(insert(projects).values(
            id=str(e.originator_id), number=e.number, organization_id=str(e.organization_id),
            team_id=str(e.team_id), slug=e.slug, name=e.name, platform=e.platform,
            options=dict(DEFAULT_OPTIONS), settings=dict(DEFAULT_SETTINGS), date_created=ms(e.timestamp),
        ))

    @handles(Project.Updated)
    def updated(self, conn: Connection, e: Project.Updated, position: int) -> None:
        project_id = str(e.originator_id)
        fields = {k: v for k, v in e.changes.items() if k in ('slug', 'name', 'platform', 'options')}
        if 'team_id' in e.changes:
            fields['team_id'] = str(e.changes['team_id'])
        if any(k in e.changes for k in SETTINGS):
            current = conn.execute(select(projects.c.settings).where(projects.c.id == project_id)).scalar()
            fields['settings'] = {**(current or {}), **{k: e.changes[k] for k in SETTINGS if k in e.changes}}
        if fields:
            conn.execute(update(projects).where(projects.c.id == project_id).values(**fields))

    @handles(Project.Deleted)
    def deleted(self, conn: Connection, e: Project.Deleted, position: int) -> None:
        project_id = str(e.originator_id)
        conn.execute(delete(projects).where(projects.c.id == project_id))
        conn.execute(delete(project_bookmarks).where(project_bookmarks.c.project_id == project_id))
        conn.execute(delete(project_keys).where(project_keys.c.project_id == project_id))

    @handles(Project.BookmarkSet)
    def bookmark(self, conn: Connection, e: Project.BookmarkSet, position: int) -> None:
        where = (project_bookmarks.c.project_id == str(e.originator_id),
                 project_bookmarks.c.user_id == e.user_id)
        conn.execute(delete(project_bookmarks).where(*where))
        if e.bookmarked:
            conn.execute(insert(project_bookmarks).values(project_id=str(e.originator_id), user_id=e.user_id))

    @handles(ProjectKey.Created)
    def key_created(self, conn: Connection, e: ProjectKey.Created, position: int) -> None:
        number = conn.execute(select(projects.c.number).where(projects.c.id == str(e.project_id))).scalar()
        conn.execute(insert(project_keys).values(
            id=str(e.originator_id), number=e.number, project_id=str(e.project_id),
            project_number=number or 0, public=e.public, secret=e.secret, name=e.name, is_active=True,
            rate_limit=None, date_created=ms(e.timestamp),
        ))

    @handles(ProjectKey.Updated)
    def key_updated(self, conn: Connection, e: ProjectKey.Updated, position: int) -> None:
        fields = {k: v for k, v in e.changes.items() if k in ('name', 'is_active', 'rate_limit')}
        if fields:
            conn.execute(update(project_keys).where(project_keys.c.id == str(e.originator_id)).values(**fields))

    @handles(ProjectKey.Deleted)
    def key_deleted(self, conn: Connection, e: ProjectKey.Deleted, position: int) -> None:
        conn.execute(delete(project_keys).where(project_keys.c.id == str(e.originator_id)))


def project_by_slug(conn: Connection, org_id: str, slug: str) -> Row | None:
    return conn.execute(select(projects).where(projects.c.organization_id == org_id,
                                               projects.c.slug == slug)).first()


def project_by_number(conn: Connection, number: int) -> Row | None:
    return conn.execute(select(projects).where(projects.c.number == number)).first()


def project_key_by_public(conn: Connection, public: str) -> Row | None:
    return conn.execute(select(project_keys).where(project_keys.c.public == public)).first()


def keys_of_project(conn: Connection, project_id: str) -> list[Row]:
    return conn.execute(select(project_keys).where(project_keys.c.project_id == project_id)
                        .order_by(project_keys.c.number.desc())).all()


def project_by_id(conn: Connection, project_id: str) -> Row | None:
    return conn.execute(select(projects).where(projects.c.id == project_id)).first()
