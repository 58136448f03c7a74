"""Releases, their commits and deploys, and the repositories commits come from."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.domain.actor import Actor
from sentrail.domain.deploy import Deploy, check_environment
from sentrail.domain.errors import Conflict, Invalid, NotFound
from sentrail.domain.organization import Organization
from sentrail.domain.project import Project
from sentrail.domain.release import Release, check_status, check_version, release_id, split_range
from sentrail.domain.repository import Repository, check_provider, check_repository_name, repository_id


@dataclass(frozen=True)
class CreateRelease:
    """Idempotent: an existing version gains the projects it lacks (and a new status).
    `commits` are dicts as Sentry takes them (`id`, `repository`, `message`, `author_name`,
    `author_email`, `timestamp` in epoch ms, `patch_set`); `refs` are dicts with
    `repository`, `commit` and `previous_commit`."""

    organization_id: UUID
    version: str
    actor: Actor
    project_ids: tuple = ()
    ref: str | None = None
    url: str | None = None
    date_started: int | None = None
    date_released: int | None = None
    status: str | None = None
    commits: tuple | None = None
    refs: tuple | None = None


@dataclass(frozen=True)
class UpdateRelease:
    """`changes` uses the aggregate's names: ref, url, date_started, date_released, status."""

    release_id: UUID
    changes: dict
    actor: Actor
    commits: tuple | None = None
    refs: tuple | None = None


@dataclass(frozen=True)
class DeleteRelease:
    release_id: UUID
    actor: Actor


@dataclass(frozen=True)
class CreateDeploy:
    release_id: UUID
    environment: str
    date_finished: int
    actor: Actor
    name: str | None = None
    url: str | None = None
    date_started: int | None = None


@dataclass(frozen=True)
class CreateRepository:
    organization_id: UUID
    name: str
    actor: Actor
    provider: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class DeleteRepository:
    repository_id: UUID
    actor: Actor


def check_projects(app: Sentrail, org: Organization, project_ids: tuple) -> list[UUID]:
    """Only live projects of the release's own organization may be linked."""
    for project_id in project_ids:
        try:
            project = app.load(Project, project_id)
        except NotFound:
            project = None
        if project is None or project.organization_id != org.id:
            raise Invalid('Invalid project slugs', field='projects')
    return list(dict.fromkeys(project_ids))


@handles(CreateRelease)
def create_release(app: Sentrail, cmd: CreateRelease) -> Outcome:
    org = app.load(Organization, cmd.organization_id)
    version = check_version(cmd.version)
    status = check_status(cmd.status) if cmd.status is not None else None
    project_ids = check_projects(app, org, cmd.project_ids)
    meta = cmd.actor.meta()
    release = app.find(release_id(org.id, version))
    touched: list = []
    if isinstance(release, Release) and not release.deleted:
        new_projects = release.add_projects(project_ids, meta)
        if status is not None:
            release.update({'status': status}, meta)
        created = bool(new_projects)
    else:
        sequence, number = app.next_number('release')
        fields = dict(number=number, project_ids=project_ids, ref=cmd.ref, url=cmd.url,
                      date_started=cmd.date_started, date_released=cmd.date_released,
                      status=status or 'open', meta=meta)
        if isinstance(release, Release):
            release.recreate(**fields)
        else:
            release = Release(organization_id=org.id, version=version, **fields)
        touched.append(sequence)
        created = True
    touched += record_commits(app, org, release, cmd.commits, cmd.refs, meta)
    return save(app, release, *touched, id=version, release_id=release.id, created=created)


@handles(UpdateRelease)
def update_release(app: Sentrail, cmd: UpdateRelease) -> Outcome:
    release = app.load(Release, cmd.release_id)
    org = app.load(Organization, release.organization_id)
    changes = dict(cmd.changes)
    if 'status' in changes:
        changes['status'] = check_status(changes['status'])
    meta = cmd.actor.meta()
    changed = release.update(changes, meta)
    touched = record_commits(app, org, release, cmd.commits, cmd.refs, meta)
    return save(app, release, *touched, id=release.release_version, release_id=release.id, changed=changed)


@handles(DeleteRelease)
def delete_release(app: Sentrail, cmd: DeleteRelease) -> Outcome:
    release = app.load(Release, cmd.release_id)
    release.delete(cmd.actor.meta())
    return save(app, release, id=release.release_version)


def record_commits(app: Sentrail, org: Organization, release: Release, commits: tuple | None,
                   refs: tuple | None, meta: dict) -> list:
    """Apply `commits` and `refs` as Sentry does: commits name their repository (made
    on first mention); refs must name existing ones, and their commits are looked up
    only when no commits came along. An empty `refs` list clears the release's commits."""
    touched: list = []
    if commits:
        repositories: dict[str, Repository] = {}
        resolved = []
        seen = set()
        for commit in commits:
            name = check_repository_name(commit.get('repository') or f'organization-{org.number}', 'commits')
            if name not in repositories:
                repositories[name], made = ensure_repository(app, org.id, name, meta)
                touched += made
            key = (name, commit['id'])
            if key not in seen:
                seen.add(key)
                resolved.append({**commit, 'repository': name, 'repository_id': str(repositories[name].id)})
        release.set_commits(resolved, meta)
    if refs is not None:
        release.set_refs(resolve_refs(app, org.id, refs), not commits, meta)
    return touched


def ensure_repository(app: Sentrail, organization_id: UUID, name: str, meta: dict) -> tuple[Repository, list]:
    """The repository of that name, made (or reopened) if needed; also what to save."""
    found = app.find(repository_id(organization_id, name))
    if isinstance(found, Repository):
        if found.deleted:
            found.reopen(provider=found.provider, url=found.url, meta=meta)
            return found, [found]
        return found, []
    sequence, number = app.next_number('repository')
    repository = Repository(number=number, organization_id=organization_id, name=name, provider=None, url=None,
                            meta=meta)
    return repository, [repository, sequence]


def resolve_refs(app: Sentrail, organization_id: UUID, refs: tuple) -> list[dict]:
    repositories = {name: app.find(repository_id(organization_id, name)) for name in {r['repository'] for r in refs}}
    invalid = sorted(name for name, found in repositories.items()
                     if not isinstance(found, Repository) or found.deleted)
    if invalid:
        raise Invalid(f'Invalid repository names: {",".join(invalid)}', field='refs')
    resolved = []
    for ref in refs:
        previous, head = split_range(ref['commit'], ref.get('previous_commit'))
        resolved.append({'repository': ref['repository'], 'repository_id': str(repositories[ref['repository']].id),
                         'commit': head, 'previous_commit': previous or None})
    return resolved


@handles(CreateDeploy)
def create_deploy(app: Sentrail, cmd: CreateDeploy) -> Outcome:
    release = app.load(Release, cmd.release_id)
    environment = check_environment(cmd.environment)
    sequence, number = app.next_number('deploy')
    deploy = Deploy(number=number, organization_id=release.organization_id, release_id=release.id,
                    version=release.release_version, environment=environment, name=cmd.name, url=cmd.url,
                    date_started=cmd.date_started, date_finished=cmd.date_finished, meta=cmd.actor.meta())
    return save(app, sequence, deploy, id=str(number), deploy_id=deploy.id)


@handles(CreateRepository)
def create_repository(app: Sentrail, cmd: CreateRepository) -> Outcome:
    org = app.load(Organization, cmd.organization_id)
    name = check_repository_name(cmd.name)
    provider = check_provider(cmd.provider)
    meta = cmd.actor.meta()
    found = app.find(repository_id(org.id, name))
    if isinstance(found, Repository) and not found.deleted:
        raise Conflict('A repository with that name already exists')
    if isinstance(found, Repository):
        found.reopen(provider=provider, url=cmd.url, meta=meta)
        return save(app, found, id=str(found.number), repository_id=found.id)
    sequence, number = app.next_number('repository')
    repository = Repository(number=number, organization_id=org.id, name=name, provider=provider, url=cmd.url,
                            meta=meta)
    return save(app, sequence, repository, id=str(number), repository_id=repository.id)


@handles(DeleteRepository)
def delete_repository(app: Sentrail, cmd: DeleteRepository) -> Outcome:
    repository = app.load(Repository, cmd.repository_id)
    repository.delete(cmd.actor.meta())
    return save(app, repository, id=str(repository.number))
