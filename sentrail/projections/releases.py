"""Releases with their projects, commits and deploys; repositories and the commits
known in each; per (project, release) counts from ingested events."""
from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, ColumnElement, Connection, Index, Integer, Select, String,
                        Table, Text, and_, bindparam, delete, false, func, insert, or_, select, update)
from sqlalchemy.engine import Row

from sentrail.domain.deploy import Deploy
from sentrail.domain.group import Group
from sentrail.domain.ingested import IngestedEvent
from sentrail.domain.project import Project
from sentrail.domain.release import MAX_VERSION_LENGTH, Release
from sentrail.domain.repository import Repository
from sentrail.projections.base import FoldingProjection, PendingFold, handles
from sentrail.projections.clock import ms
from sentrail.projections.accounts import users
from sentrail.projections.organizations import email_key, members
from sentrail.projections.projects import projects
from sentrail.projections.schema import metadata
from sentrail.projections.upsert import Counting

releases = Table(
    'releases', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('organization_id', String(36), nullable=False),
    Column('version', String(200), nullable=False),
    Column('ref', String(200)),
    Column('url', String(2000)),
    Column('status', String(20), nullable=False),
    Column('date_created', BigInteger, nullable=False),
    Column('date_started', BigInteger),
    Column('date_released', BigInteger),
    # COALESCE(date_released, date_created): the list's order, kept as a column for the keyset.
    Column('sort_date', BigInteger, nullable=False),
    Column('commit_count', Integer, nullable=False),
    Column('last_commit_repository_id', String(36)),
    Column('last_commit_key', String(64)),
    Column('authors', JSON, nullable=False),
    Column('deploy_count', Integer, nullable=False),
    Column('last_deploy_id', String(36)),
    Index('ux_releases_org_version', 'organization_id', 'version', unique=True),
    Index('ix_releases_org_sort', 'organization_id', 'sort_date'),
)

release_projects = Table(
    'release_projects', metadata,
    Column('release_id', String(36), primary_key=True),
    Column('project_id', String(36), primary_key=True, index=True),
)

# Keyed by (project, version) rather than by release: events may name a release
# before it is created, and the counts survive a release's deletion and return.
release_stats = Table(
    'release_stats', metadata,
    Column('project_id', String(36), primary_key=True),
    Column('version', String(200), primary_key=True),
    Column('new_groups', Integer, nullable=False),
    Column('first_event', BigInteger),
    Column('last_event', BigInteger),
)

group_first_releases = Table(
    'group_first_releases', metadata,
    Column('group_id', String(36), primary_key=True),
    Column('project_id', String(36), nullable=False),
    Column('version', String(200)),
    Column('seen', Boolean, nullable=False),
    Column('deleted', Boolean, nullable=False),
    Index('ix_group_first_releases_version', 'project_id', 'version'),
)

repositories = Table(
    'repositories', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('organization_id', String(36), nullable=False, index=True),
    Column('name', String(200), nullable=False),
    Column('name_key', BigInteger, nullable=False),
    Column('provider', String(64)),
    Column('url', String(2000)),
    Column('status', String(30), nullable=False),
    Column('date_created', BigInteger, nullable=False),
)

# Every commit known in a repository; `seq` orders its history as it was learnt
# (uploads list commits newest first, so each upload is numbered oldest first).
commits = Table(
    'commits', metadata,
    Column('repository_id', String(36), primary_key=True),
    Column('key', String(64), primary_key=True),
    Column('organization_id', String(36), nullable=False),
    Column('seq', BigInteger, nullable=False),
    Column('message', Text),
    Column('author_name', String(200)),
    Column('author_email', String(200)),
    Column('date_added', BigInteger, nullable=False),
    Column('patch_set', JSON, nullable=False),
    Index('ix_commits_repository_seq', 'repository_id', 'seq'),
    Index('ix_commits_organization_key', 'organization_id', 'key'),
)

release_commits = Table(
    'release_commits', metadata,
    Column('release_id', String(36), primary_key=True),
    Column('position', Integer, primary_key=True),
    Column('repository_id', String(36), nullable=False),
    Column('key', String(64), nullable=False),
)

release_head_commits = Table(
    'release_head_commits', metadata,
    Column('release_id', String(36), primary_key=True),
    Column('repository_id', String(36), primary_key=True),
    Column('key', String(64), nullable=False),
)

deploys = Table(
    'deploys', metadata,
    Column('id', String(36), primary_key=True),
    Column('number', Integer, nullable=False, unique=True),
    Column('organization_id', String(36), nullable=False),
    Column('release_id', String(36), nullable=False, index=True),
    Column('environment', String(64), nullable=False),
    Column('name', String(64)),
    Column('url', String(2000)),
    Column('date_started', BigInteger),
    Column('date_finished', BigInteger, nullable=False),
)

# Sentry's GitHub lookup without a base returns this many commits; a range at most the longer cap.
DEFAULT_DEPTH = 20
MAX_RANGE = 250
# Room for the commits of one upload between two log positions.
SEQ_STRIDE = 1_000_000
RELEASE_FIELDS = ('ref', 'url', 'status', 'date_started', 'date_released')


RELEASE_STATS = Counting(release_stats, count='new_groups', first='first_event', last='last_event')
MARK_FIRST = (update(group_first_releases)
              .where(group_first_releases.c.group_id == bindparam('g'), group_first_releases.c.seen.is_(False))
              .values(seen=True, version=bindparam('v')))


class ReleaseBatch:
    """A batch of ingested events as release facts: the release of each issue's
    first event (the issue is one of that release's new groups) and each
    release's first and last event time. Nothing is read but which issues are
    still unseen."""

    def __init__(self) -> None:
        self.created: list[dict] = []
        self.firsts: dict[str, tuple[str, str | None]] = {}
        self.stats: dict[tuple, dict] = {}

    def add(self, e: IngestedEvent.Received) -> None:
        version = e.data.get('release') or None
        if version is not None and len(version) > MAX_VERSION_LENGTH:
            version = None  # no release can have it
        self.firsts.setdefault(str(e.group_id), (str(e.project_id), version))
        if version is not None:
            moment = int(float(e.data.get('timestamp') or e.timestamp.timestamp()) * 1000)
            row = {'project_id': str(e.project_id), 'version': version, 'new_groups': 0,
                   'first_event': moment, 'last_event': moment}
            RELEASE_STATS.add(self.stats, row, (row['project_id'], version))

    def write(self, conn: Connection) -> None:
        if self.created:
            conn.execute(insert(group_first_releases), self.created)
            self.created = []
        if not self.firsts:
            return
        ids = list(self.firsts)
        unseen = set()
        for start in range(0, len(ids), 500):
            unseen.update(conn.execute(select(group_first_releases.c.group_id).where(
                group_first_releases.c.group_id.in_(ids[start:start + 500]),
                group_first_releases.c.seen.is_(False))).scalars())
        if unseen:
            conn.execute(MARK_FIRST, [{'g': g, 'v': self.firsts[g][1]} for g in unseen])
        for group_id in unseen:
            project_id, version = self.firsts[group_id]
            if version is not None:
                self.stats[(project_id, version)]['new_groups'] += 1
        RELEASE_STATS.run(conn, self.stats.values())
        self.firsts, self.stats = {}, {}


class ReleaseFold(PendingFold):
    """Ingested events are folded (first release per issue, counts per release);
    anything else flushes the fold first, so the log's order still holds."""

    pending_class = ReleaseBatch

    def add(self, batch: list) -> None:
        pending, conn = self.pending, self.conn
        for event, position in batch:
            if type(event) is IngestedEvent.Received:
                pending.add(event)
                continue
            if type(event) is Group.Created:
                pending.created.append({'group_id': str(event.originator_id), 'project_id': str(event.project_id),
                                        'version': None, 'seen': False, 'deleted': False})
                continue
            pending.write(conn)
            self.projection.apply(conn, event, position)


class ReleaseProjection(FoldingProjection):
    name = 'releases'
    tables = (releases, release_projects, release_stats, group_first_releases, repositories, commits,
              release_commits, release_head_commits, deploys)
    fold_class = ReleaseFold

    @handles(Release.Created, Release.Recreated)
    def created(self, conn: Connection, e: Release.Created | Release.Recreated, position: int) -> None:
        release_id = str(e.originator_id)
        self._forget(conn, release_id)
        when = ms(e.timestamp)
        conn.execute(insert(releases).values(
            id=release_id, number=e.number, organization_id=str(e.organization_id), version=e.version, ref=e.ref,
            url=e.url, status=e.status, date_created=when, date_started=e.date_started,
            date_released=e.date_released, sort_date=e.date_released or when, commit_count=0, authors=[],
            deploy_count=0,
        ))
        self._link(conn, release_id, e.project_ids)

    def _forget(self, conn: Connection, release_id: str) -> None:
        conn.execute(delete(releases).where(releases.c.id == release_id))
        for table in (release_projects, release_commits, release_head_commits, deploys):
            conn.execute(delete(table).where(table.c.release_id == release_id))

    def _link(self, conn: Connection, release_id: str, project_ids: list) -> None:
        for project_id in project_ids:
            conn.execute(insert(release_projects).values(release_id=release_id, project_id=str(project_id)))

    @handles(Release.ProjectsAdded)
    def projects_added(self, conn: Connection, e: Release.ProjectsAdded, position: int) -> None:
        self._link(conn, str(e.originator_id), e.project_ids)

    @handles(Release.Updated)
    def updated(self, conn: Connection, e: Release.Updated, position: int) -> None:
        fields = {k: v for k, v in e.changes.items() if k in RELEASE_FIELDS}
        if 'date_released' in fields:
            row = conn.execute(select(releases.c.date_created).where(releases.c.id == str(e.originator_id))).first()
            fields['sort_date'] = fields['date_released'] or (row.date_created if row else 0)
        if fields:
            conn.execute(update(releases).where(releases.c.id == str(e.originator_id)).values(**fields))

    @handles(Release.Deleted)
    def deleted(self, conn: Connection, e: Release.Deleted, position: int) -> None:
        self._forget(conn, str(e.originator_id))

    @handles(Release.CommitsSet)
    def commits_set(self, conn: Connection, e: Release.CommitsSet, position: int) -> None:
        release_id = str(e.originator_id)
        organization_id = self._organization_of(conn, release_id)
        when = ms(e.timestamp)
        for index, commit in enumerate(reversed(e.commits)):
            self._learn(conn, organization_id, commit, position * SEQ_STRIDE + index, when)
        self._set_release_commits(conn, release_id, [(c['repository_id'], c['id']) for c in e.commits])
        heads: dict[str, str] = {}
        for commit in e.commits:
            heads.setdefault(commit['repository_id'], commit['id'])
        self._set_heads(conn, release_id, heads)

    @handles(Release.RefsSet)
    def refs_set(self, conn: Connection, e: Release.RefsSet, position: int) -> None:
        release_id = str(e.originator_id)
        organization_id = self._organization_of(conn, release_id)
        if not e.refs:
            self._set_heads(conn, release_id, {})
            self._set_release_commits(conn, release_id, [])
            return
        found: list[tuple[str, str]] = []
        for index, ref in enumerate(e.refs):
            named, head = ref['repository_id'], ref['commit']
            start = ref['previous_commit'] or previous_head(conn, release_id, named)
            source = knowing_repository(conn, organization_id, named, head, start)
            if source is None:  # a head nobody knows: it stands alone, and is known from now on
                self._learn(conn, organization_id, {'id': head, 'repository_id': named},
                            position * SEQ_STRIDE + index, ms(e.timestamp))
                found.append((named, head))
                continue
            found += [(source, key) for key in commit_range(conn, source, start, head)]
        self._set_heads(conn, release_id, {ref['repository_id']: ref['commit'] for ref in e.refs})
        if e.fetch:
            self._set_release_commits(conn, release_id, found)

    def _organization_of(self, conn: Connection, release_id: str) -> str:
        return conn.execute(select(releases.c.organization_id).where(releases.c.id == release_id)).scalar_one()

    def _learn(self, conn: Connection, organization_id: str, commit: dict, seq: int, when: int) -> None:
        """Add a commit to its repository's history, or fill in what an earlier mention lacked."""
        where = (commits.c.repository_id == commit['repository_id'], commits.c.key == commit['id'])
        known = conn.execute(select(commits.c.seq).where(*where)).first()
        details = {k: commit.get(k) for k in ('message', 'author_name', 'author_email') if commit.get(k)}
        if commit.get('patch_set'):
            details['patch_set'] = commit['patch_set']
        if commit.get('timestamp') is not None:
            details['date_added'] = commit['timestamp']
        if known is None:
            conn.execute(insert(commits).values(**{
                'repository_id': commit['repository_id'], 'key': commit['id'], 'organization_id': organization_id,
                'seq': seq, 'date_added': when, 'patch_set': [], **details}))
        elif details:
            conn.execute(update(commits).where(*where).values(**details))

    def _set_release_commits(self, conn: Connection, release_id: str, keys: list[tuple[str, str]]) -> None:
        keys = list(dict.fromkeys(keys))
        conn.execute(delete(release_commits).where(release_commits.c.release_id == release_id))
        for index, (repository_id, key) in enumerate(keys):
            conn.execute(insert(release_commits).values(release_id=release_id, position=index,
                                                        repository_id=repository_id, key=key))
        last = keys[0] if keys else (None, None)
        conn.execute(update(releases).where(releases.c.id == release_id).values(
            commit_count=len(keys), last_commit_repository_id=last[0], last_commit_key=last[1],
            authors=commit_authors(conn, keys),
        ))

    def _set_heads(self, conn: Connection, release_id: str, heads: dict[str, str]) -> None:
        conn.execute(delete(release_head_commits).where(release_head_commits.c.release_id == release_id))
        for repository_id, key in heads.items():
            conn.execute(insert(release_head_commits).values(release_id=release_id, repository_id=repository_id,
                                                             key=key))

    @handles(Deploy.Created)
    def deploy_created(self, conn: Connection, e: Deploy.Created, position: int) -> None:
        release_id = str(e.release_id)
        conn.execute(insert(deploys).values(
            id=str(e.originator_id), number=e.number, organization_id=str(e.organization_id), release_id=release_id,
            environment=e.environment, name=e.name, url=e.url, date_started=e.date_started,
            date_finished=e.date_finished,
        ))
        conn.execute(update(releases).where(releases.c.id == release_id).values(
            deploy_count=releases.c.deploy_count + 1, last_deploy_id=str(e.originator_id)))

    @handles(Repository.Created)
    def repository_created(self, conn: Connection, e: Repository.Created, position: int) -> None:
        conn.execute(insert(repositories).values(
            id=str(e.originator_id), number=e.number, organization_id=str(e.organization_id), name=e.name,
            name_key=email_key(e.name), provider=e.provider, url=e.url, status='active',
            date_created=ms(e.timestamp),
        ))

    @handles(Repository.Reopened)
    def repository_reopened(self, conn: Connection, e: Repository.Reopened, position: int) -> None:
        conn.execute(update(repositories).where(repositories.c.id == str(e.originator_id))
                     .values(provider=e.provider, url=e.url, status='active'))

    @handles(Repository.Deleted)
    def repository_deleted(self, conn: Connection, e: Repository.Deleted, position: int) -> None:
        conn.execute(update(repositories).where(repositories.c.id == str(e.originator_id))
                     .values(status='pending_deletion'))

    @handles(Project.Deleted)
    def project_deleted(self, conn: Connection, e: Project.Deleted, position: int) -> None:
        conn.execute(delete(release_projects).where(release_projects.c.project_id == str(e.originator_id)))

    @handles(Group.Created)
    def group_created(self, conn: Connection, e: Group.Created, position: int) -> None:
        conn.execute(insert(group_first_releases).values(group_id=str(e.originator_id),
                                                         project_id=str(e.project_id), version=None, seen=False,
                                                         deleted=False))

    @handles(Group.Deleted, Group.Forwarded)
    def group_deleted(self, conn: Connection, e: Group.Deleted | Group.Forwarded, position: int) -> None:
        """A deleted or merged issue no longer holds its first release."""
        conn.execute(update(group_first_releases).where(group_first_releases.c.group_id == str(e.originator_id))
                     .values(deleted=True))

    @handles(IngestedEvent.Received)
    def event_received(self, conn: Connection, e: IngestedEvent.Received, position: int) -> None:
        self.apply_batch(conn, [(e, position)])


def previous_head(conn: Connection, release_id: str, repository_id: str) -> str | None:
    """The head commit in this repository of the latest other release sharing a project
    with this one: where a ref without `previousCommit` starts, as in Sentry."""
    shared = select(release_projects.c.project_id).where(release_projects.c.release_id == release_id)
    others = (select(release_projects.c.release_id).where(release_projects.c.project_id.in_(shared),
                                                          release_projects.c.release_id != release_id))
    query = (select(releases.c.id).where(releases.c.id.in_(others))
             .order_by(releases.c.sort_date.desc(), releases.c.number.desc()).limit(1))
    previous = conn.execute(query).scalar()
    if previous is None:
        return None
    return conn.execute(select(release_head_commits.c.key).where(
        release_head_commits.c.release_id == previous, release_head_commits.c.repository_id == repository_id)).scalar()


def knowing_repository(conn: Connection, organization_id: str, repository_id: str, head: str,
                       start: str | None) -> str | None:
    """The repository whose history holds the head (and the start before it, if any
    does): the one named when it qualifies, else another of the organization's, since
    `sentry-cli set-commits --local` files commits under the remote's name (`origin`)
    while refs name the repository as configured."""
    query = select(commits.c.repository_id, commits.c.key, commits.c.seq).where(
        commits.c.organization_id == organization_id, commits.c.key.in_([head, start or head]))
    heads: dict[str, int] = {}
    starts: dict[str, int] = {}
    for repository, key, seq in conn.execute(query):
        (heads if key == head else starts)[repository] = seq
    spanning = [r for r in heads if r in starts and starts[r] < heads[r]]
    for candidates in (spanning, list(heads)):
        if repository_id in candidates:
            return repository_id
        if candidates:
            return min(candidates, key=heads.__getitem__)
    return None


def commit_range(conn: Connection, repository_id: str, start: str | None, end: str) -> list[str]:
    """The repository's known commits after `start` up to `end`, newest first. Without a
    known start, the last commits up to `end`; an unknown end, or a start that is not
    before it, leaves the end commit alone."""
    def seq_of(key: str | None) -> int | None:
        if key is None:
            return None
        return conn.execute(select(commits.c.seq).where(commits.c.repository_id == repository_id,
                                                        commits.c.key == key)).scalar()

    end_seq = seq_of(end)
    if end_seq is None:
        return [end]
    start_seq = seq_of(start)
    query = (select(commits.c.key).where(commits.c.repository_id == repository_id, commits.c.seq <= end_seq)
             .order_by(commits.c.seq.desc()))
    if start_seq is None:
        return list(conn.execute(query.limit(DEFAULT_DEPTH)).scalars())
    if start_seq >= end_seq:
        return [end]
    return list(conn.execute(query.where(commits.c.seq > start_seq).limit(MAX_RANGE)).scalars())


def commit_authors(conn: Connection, keys: list[tuple[str, str]]) -> list[dict]:
    """Distinct authors of these commits (by email), in commit order."""
    authors: dict[str, dict] = {}
    for row in commit_rows(conn, keys):
        if row.author_email and row.author_email.lower() not in authors:
            authors[row.author_email.lower()] = {'name': row.author_name or row.author_email,
                                                 'email': row.author_email}
    return list(authors.values())


def commit_rows(conn: Connection, keys: list[tuple[str, str]]) -> list[Row]:
    """The commit rows for (repository_id, key) pairs, in the pairs' order."""
    found: dict[tuple[str, str], Row] = {}
    by_repository: dict[str, list[str]] = {}
    for repository_id, key in keys:
        by_repository.setdefault(repository_id, []).append(key)
    for repository_id, wanted in by_repository.items():
        for row in conn.execute(select(commits).where(commits.c.repository_id == repository_id,
                                                      commits.c.key.in_(wanted))):
            found[(row.repository_id, row.key)] = row
    return [found[k] for k in keys if k in found]


def _in_projects(project_ids: Select | list[str]) -> ColumnElement:
    return releases.c.id.in_(select(release_projects.c.release_id)
                             .where(release_projects.c.project_id.in_(project_ids)))


def releases_query(org_id: str, team_ids: set[str] | None, project_id: str | None = None,
                   prefix: str | None = None, status: str | None = None) -> Select:
    """An organization's releases the caller may see: with `team_ids` None every one,
    otherwise those of a project in those teams; narrowed to one project, a version
    prefix (any case) and a status."""
    query = select(releases).where(releases.c.organization_id == org_id)
    if project_id is not None:
        query = query.where(_in_projects([project_id]))
    if team_ids is not None:
        query = query.where(_in_projects(select(projects.c.id).where(projects.c.organization_id == org_id,
                                                                     projects.c.team_id.in_(team_ids))))
    if prefix:
        query = query.where(func.lower(releases.c.version).startswith(prefix.lower(), autoescape=True))
    if status:
        query = query.where(releases.c.status == status)
    return query


def release_by_version(conn: Connection, org_id: str, version: str) -> Row | None:
    return conn.execute(select(releases).where(releases.c.organization_id == org_id,
                                               releases.c.version == version)).first()


def release_by_id(conn: Connection, release_id: str) -> Row | None:
    return conn.execute(select(releases).where(releases.c.id == release_id)).first()


def projects_of_releases(conn: Connection, release_ids: list[str]) -> dict[str, list[Row]]:
    """Each release's project rows, by slug."""
    found: dict[str, list[Row]] = {release_id: [] for release_id in release_ids}
    if not release_ids:
        return found
    query = (select(release_projects.c.release_id, projects)
             .join(projects, projects.c.id == release_projects.c.project_id)
             .where(release_projects.c.release_id.in_(release_ids)).order_by(projects.c.slug))
    for row in conn.execute(query):
        found[row.release_id].append(row)
    return found


def stats_of(conn: Connection, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], Row]:
    """Event counts per (project_id, version)."""
    if not pairs:
        return {}
    wanted = [and_(release_stats.c.project_id == p, release_stats.c.version == v) for p, v in pairs]
    return {(row.project_id, row.version): row for row in conn.execute(select(release_stats).where(or_(*wanted)))}


def repositories_by_ids(conn: Connection, ids: set[str]) -> dict[str, Row]:
    if not ids:
        return {}
    return {row.id: row for row in conn.execute(select(repositories).where(repositories.c.id.in_(ids)))}


def deploys_by_ids(conn: Connection, ids: set[str]) -> dict[str, Row]:
    if not ids:
        return {}
    return {row.id: row for row in conn.execute(select(deploys).where(deploys.c.id.in_(ids)))}


def is_referenced(conn: Connection, release: Row) -> bool:
    """Whether a live issue of one of the release's projects first appeared in it."""
    of_release = select(release_projects.c.project_id).where(release_projects.c.release_id == release.id)
    query = select(group_first_releases.c.group_id).where(
        group_first_releases.c.project_id.in_(of_release), group_first_releases.c.version == release.version,
        group_first_releases.c.deleted.is_(False)).limit(1)
    return conn.execute(query).first() is not None


def release_commits_query(release_id: str) -> Select:
    """A release's commits; page by `release_commits.c.position` (newest first)."""
    return (select(commits, release_commits.c.position)
            .join(release_commits, and_(release_commits.c.repository_id == commits.c.repository_id,
                                        release_commits.c.key == commits.c.key))
            .where(release_commits.c.release_id == release_id))


def repository_commits_query(repository_id: str) -> Select:
    """A repository's known commits; page by `commits.c.seq` (newest first)."""
    return select(commits).where(commits.c.repository_id == repository_id)


def previous_with_commits(conn: Connection, release: Row) -> Row | None:
    """The latest release with commits, sharing a project, released (or made) no later than
    this one. Like Sentry, a release with commits of its own finds itself."""
    shared = select(release_projects.c.project_id).where(release_projects.c.release_id == release.id)
    query = (select(releases).where(releases.c.organization_id == release.organization_id,
                                    releases.c.last_commit_key.is_not(None),
                                    releases.c.sort_date <= release.sort_date, _in_projects(shared))
             .order_by(releases.c.sort_date.desc(), releases.c.number.desc()).limit(1))
    return conn.execute(query).first()


def deploys_query(release_id: str) -> Select:
    return select(deploys).where(deploys.c.release_id == release_id)


def repositories_query(org_id: str, status: str) -> Select:
    """`status` is 'active' or 'deleted' as Sentry filters; anything else matches nothing."""
    query = select(repositories).where(repositories.c.organization_id == org_id)
    if status == 'active':
        return query.where(repositories.c.status == 'active')
    if status == 'deleted':
        return query.where(repositories.c.status != 'active')
    return query.where(false())


def repository_by_number(conn: Connection, org_id: str, number: int) -> Row | None:
    return conn.execute(select(repositories).where(repositories.c.organization_id == org_id,
                                                   repositories.c.number == number)).first()


def member_users_by_email(conn: Connection, org_id: str, emails: set[str]) -> dict[str, Row]:
    """Users of the organization with these emails (lower-cased keys): commit authors
    who are members show as users, as in Sentry."""
    if not emails:
        return {}
    query = (select(users).join(members, members.c.user_id == users.c.id)
             .where(members.c.organization_id == org_id, func.lower(users.c.email).in_(emails),
                    users.c.is_active.is_(True)))
    return {row.email.lower(): row for row in conn.execute(query)}
