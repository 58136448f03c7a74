"""Releases: a version of an organization's code, shipped to some of its projects.

A release is unique per (organization, version), so its id is derived from
both: two CI jobs creating the same release at once collide in the event store
and the loser finds the release there. Its commits are facts it records; the
repository history they resolve against lives in a projection.
"""
from __future__ import annotations

import re
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.errors import Invalid
from sentrail.domain.identity import natural_id

STATUSES = ('open', 'archived')
MAX_VERSION_LENGTH = 200
MAX_COMMIT_LENGTH = 64
COMMIT_RANGE = '..'

_FORBIDDEN = re.compile(r'[\r\n\f\x0c\t/\\]')
_RESERVED = ('', '.', '..', ' ', 'latest')
_SHA1 = re.compile(r'^[a-f0-9]{40}$')
_DOTTED_PREFIX = re.compile(r'^([a-zA-Z][a-zA-Z0-9-]+)(\.[a-zA-Z][a-zA-Z0-9-]+)+-')


class Release(Entity):
    class Created(Aggregate.Created):
        number: int
        organization_id: UUID
        version: str
        project_ids: list
        ref: str | None
        url: str | None
        date_started: int | None
        date_released: int | None
        status: str
        meta: dict

    @event(Created)
    def __init__(self, number: int, organization_id: UUID, version: str, project_ids: list, ref: str | None,
                 url: str | None, date_started: int | None, date_released: int | None, status: str,
                 meta: dict) -> None:
        self.organization_id = organization_id
        # Not `version`: eventsourcing keeps the aggregate's own version number there.
        self.release_version = version
        self._start(number, project_ids, ref, url, date_started, date_released, status)

    def _start(self, number: int, project_ids: list, ref: str | None, url: str | None,
               date_started: int | None, date_released: int | None, status: str) -> None:
        self.number = number
        self.project_ids = list(project_ids)
        self.ref = ref
        self.url = url
        self.date_started = date_started
        self.date_released = date_released
        self.status = status
        self.deleted = False

    @staticmethod
    def create_id(organization_id: UUID, version: str, **_: object) -> UUID:
        return release_id(organization_id, version)

    class Recreated(Aggregate.Event):
        """The same version again after a delete: a fresh release under the old id."""

        number: int
        organization_id: UUID
        version: str
        project_ids: list
        ref: str | None
        url: str | None
        date_started: int | None
        date_released: int | None
        status: str
        meta: dict

    @event(Recreated)
    def _recreate(self, number: int, organization_id: UUID, version: str, project_ids: list, ref: str | None,
                  url: str | None, date_started: int | None, date_released: int | None, status: str,
                  meta: dict) -> None:
        self._start(number, project_ids, ref, url, date_started, date_released, status)

    def recreate(self, **fields: object) -> None:
        self._recreate(organization_id=self.organization_id, version=self.release_version, **fields)

    class ProjectsAdded(Aggregate.Event):
        project_ids: list
        meta: dict

    @event(ProjectsAdded)
    def _add_projects(self, project_ids: list, meta: dict) -> None:
        self.project_ids = self.project_ids + list(project_ids)

    def add_projects(self, project_ids: list, meta: dict) -> list:
        """Link the projects not linked yet; returns those (none: nothing happens)."""
        self.check_not_deleted()
        new = [p for p in dict.fromkeys(project_ids) if p not in self.project_ids]
        if new:
            self._add_projects(new, meta)
        return new

    class CommitsSet(Aggregate.Event):
        """The release's commits, newest first, each naming its repository."""

        commits: list
        meta: dict

    @event(CommitsSet)
    def _set_commits(self, commits: list, meta: dict) -> None:
        pass

    def set_commits(self, commits: list, meta: dict) -> None:
        self.check_not_deleted()
        self._set_commits(commits, meta)

    class RefsSet(Aggregate.Event):
        """Head commits per repository; with `fetch`, the commits between each head and
        the previous head are looked up among the repository's known commits."""

        refs: list
        fetch: bool
        meta: dict

    @event(RefsSet)
    def _set_refs(self, refs: list, fetch: bool, meta: dict) -> None:
        pass

    def set_refs(self, refs: list, fetch: bool, meta: dict) -> None:
        self.check_not_deleted()
        self._set_refs(refs, fetch, meta)


def release_id(organization_id: UUID, version: str) -> UUID:
    return natural_id('release', organization_id, version)


def check_version(version: object) -> str:
    """Sentry refuses versions that cannot be a path segment or that mean something else."""
    if not isinstance(version, str) or version.strip() == '':
        raise Invalid('This field is required.', field='version')
    if len(version) > MAX_VERSION_LENGTH:
        raise Invalid(f'Ensure this field has no more than {MAX_VERSION_LENGTH} characters.', field='version')
    if version in _RESERVED or _FORBIDDEN.search(version):
        raise Invalid('Invalid value for release', field='version')
    return version


def check_status(status: object) -> str:
    if status not in STATUSES:
        raise Invalid(f'Invalid status {status}', field='status')
    return status  # type: ignore[return-value]


def short_version(version: str) -> str:
    """The display form: a dotted package prefix (`com.example.app-`) dropped, a SHA1 cut to 7."""
    match = _DOTTED_PREFIX.match(version)
    if match is not None:
        version = version[match.end():]
    return version[:7] if _SHA1.match(version) else version


def split_range(commit: str, previous: str | None) -> tuple[str | None, str]:
    """`A..B` in a ref's commit means previous A, head B."""
    if COMMIT_RANGE not in commit:
        if len(commit) > MAX_COMMIT_LENGTH:
            raise Invalid(f'Commit too long - max is {MAX_COMMIT_LENGTH} chars', field='refs')
        return previous, commit
    start, _, end = commit.partition(COMMIT_RANGE)
    if not start or not end or COMMIT_RANGE in end:
        raise Invalid(f'Commit cannot begin or end with {COMMIT_RANGE}', field='refs')
    if len(start) > MAX_COMMIT_LENGTH or len(end) > MAX_COMMIT_LENGTH:
        raise Invalid(f'Start or end commit too long - max is {MAX_COMMIT_LENGTH} chars each', field='refs')
    return start, end
