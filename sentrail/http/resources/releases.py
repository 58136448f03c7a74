"""Releases at organization level (`organizations/{org}/releases/…`, with their
commits, previous release with commits and deploys) and at project level
(`projects/{org}/{project}/releases/…`), as sentry-cli 2.x and 3.x call them."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import falcon
from sqlalchemy import Connection
from sqlalchemy.engine import Row

from sentrail.commands.releases import CreateDeploy, CreateRelease, DeleteRelease, UpdateRelease
from sentrail.domain.release import MAX_COMMIT_LENGTH, MAX_VERSION_LENGTH, STATUSES
from sentrail.http import fields
from sentrail.http.auth import Access
from sentrail.http.errors import FieldErrors, forbidden, not_found
from sentrail.http.openapi import NO_CONTENT, Api, Link, Op, Param, ok
from sentrail.http.pagination import cursor_param, page_size, respond_with_page, set_link
from sentrail.http.payload import read_fields
from sentrail.http.resource import Resource
from sentrail.http.resources.projects import find_project
from sentrail.http.serializers import releases as shapes
from sentrail.projections import catalog
from sentrail.projections import releases as store
from sentrail.projections.keyset import paginate
from sentrail.services import Services

# OrganizationReleasePermission and ProjectReleasePermission share this map.
RELEASE_SCOPES = {
    'GET': ('project:read', 'project:write', 'project:admin', 'project:releases'),
    'POST': ('project:write', 'project:admin', 'project:releases'),
    'PUT': ('project:write', 'project:admin', 'project:releases'),
    'DELETE': ('project:admin', 'project:releases'),
}

REFERENCED = 'This release is referenced by active issues and cannot be removed.'
DATE_FORMAT = 'Datetime has wrong format. Use one of these formats instead: ' \
              'YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].'
PATCH_TYPES = ('A', 'D', 'M')

LIST_QUERY = (Param('query', {'type': 'string'}, 'Versions starting with this text.'),
              Param('status', {'type': 'string'}, '`open` (default), `archived`, or empty for any.'))
CREATED_OR_KNOWN = {201: 'Release', 208: 'Release'}
DETAIL = Api(get=Op(returns=ok('Release')), put=Op(body='ReleaseUpdate', returns=ok('Release')),
             delete=Op(returns=NO_CONTENT, summary='Delete the release (400 while an issue was first seen in it).'))


# --- input -------------------------------------------------------------------------------------------

def parse_date(name: str, value: Any) -> int | None:
    """ISO 8601 (any fraction, `Z` or an offset; naive means UTC) to epoch ms."""
    if value is None or value == '':
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        if moment is not None:  # in UTC, where it must still fall within years 1 to 9999
            moment = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise FieldErrors({name: [DATE_FORMAT]})
    return int(moment.timestamp() * 1000)


def parse_url(name: str, value: Any) -> str | None:
    if value is None or value == '':
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ('http', 'https', 'ftp', 'ftps') or not parts.netloc \
            or len(value) > 2000:
        raise FieldErrors({name: ['Enter a valid URL.']})
    return value


def _text(name: str, item: dict, key: str, limit: int | None) -> str | None:
    value = item.get(key)
    if value is None or value == '':
        return None
    if not isinstance(value, str) or (limit is not None and len(value) > limit):
        raise FieldErrors({name: [f'Invalid {key}: a string of at most {limit} characters is expected.'
                                  if limit else f'Invalid {key}: a string is expected.']})
    return value


def _items(name: str, value: Any) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise FieldErrors({name: ['Expected a list of objects.']})
    return value


def parse_commits(value: Any) -> tuple[dict, ...]:
    """Sentry's commit objects: `id` required, the rest optional."""
    commits = []
    for item in _items('commits', value):
        sha = _text('commits', item, 'id', MAX_COMMIT_LENGTH)
        if sha is None:
            raise FieldErrors({'commits': ['Each commit needs an id.']})
        commits.append({
            'id': sha,
            'repository': _text('commits', item, 'repository', 200),
            'message': _text('commits', item, 'message', None),
            'author_name': _text('commits', item, 'author_name', 128),
            'author_email': _text('commits', item, 'author_email', 75),
            'timestamp': parse_date('commits', item.get('timestamp')),
            'patch_set': parse_patch_set(item.get('patch_set')),
        })
    return tuple(commits)


def parse_patch_set(value: Any) -> list[dict]:
    if value is None:
        return []
    changes = []
    for item in _items('commits', value):
        path = _text('commits', item, 'path', 255)
        if path is None or item.get('type') not in PATCH_TYPES:
            raise FieldErrors({'commits': [f'Commit patch_set type {item.get("type")} is not supported.'
                                           if path else 'Each patch_set entry needs a path.']})
        changes.append({'path': path, 'type': item['type']})
    return changes


def parse_refs(body: dict) -> tuple[dict, ...] | None:
    """`refs`, or the deprecated `headCommits` ({currentId, repository, previousId})
    when `refs` is absent or empty; None when neither is given."""
    refs = body.get('refs')
    if not refs and body.get('headCommits'):
        refs = [{'repository': h.get('repository'), 'commit': h.get('currentId'),
                 'previousCommit': h.get('previousId')} for h in _items('headCommits', body['headCommits'])]
    if refs is None:
        return None
    parsed = []
    for item in _items('refs', refs):
        repository = _text('refs', item, 'repository', 200)
        commit = _text('refs', item, 'commit', 2 * MAX_COMMIT_LENGTH + 2)
        if repository is None or commit is None:
            raise FieldErrors({'refs': ['Each ref needs a repository and a commit.']})
        parsed.append({'repository': repository, 'commit': commit,
                       'previous_commit': _text('refs', item, 'previousCommit', MAX_COMMIT_LENGTH)})
    return tuple(parsed)


def release_changes(body: dict) -> dict:
    """What a PUT changes; like Sentry, empty values leave a field as it is."""
    changes: dict = {}
    if body.get('ref'):
        changes['ref'] = fields.string('ref', body['ref'], MAX_VERSION_LENGTH)
    if body.get('url'):
        changes['url'] = parse_url('url', body['url'])
    for name, attribute in (('dateReleased', 'date_released'), ('dateStarted', 'date_started')):
        if body.get(name):
            changes[attribute] = parse_date(name, body[name])
    if body.get('status') is not None:
        changes['status'] = body['status']
    return changes


def commits_of(body: dict) -> tuple[dict, ...] | None:
    """None (leave the commits alone) for no list or an empty one; anything else must be commits."""
    return None if body.get('commits') in (None, []) else parse_commits(body['commits'])


def now_ms() -> int:
    return int(time.time() * 1000)


# --- reading -----------------------------------------------------------------------------------------

def describe(conn: Connection, org_id: str, rows: list[Row], project: Row | None = None) -> list[dict]:
    """Releases in Sentry's shape, looked up in a few queries for the whole list. With
    `project`, projects and counts are that project's only (project-level endpoints)."""
    linked = store.projects_of_releases(conn, [row.id for row in rows])
    if project is not None:
        linked = {rid: [p for p in found if p.id == project.id] for rid, found in linked.items()}
    stats = store.stats_of(conn, {(p.id, row.version) for row in rows for p in linked[row.id]})
    commit_keys = [(row.last_commit_repository_id, row.last_commit_key) for row in rows if row.last_commit_key]
    last_commits = {(c.repository_id, c.key): c for c in store.commit_rows(conn, commit_keys)}
    repositories = store.repositories_by_ids(conn, {key[0] for key in commit_keys})
    deploys = store.deploys_by_ids(conn, {row.last_deploy_id for row in rows if row.last_deploy_id})
    emails = {a['email'].lower() for row in rows for a in row.authors} | \
             {c.author_email.lower() for c in last_commits.values() if c.author_email}
    members = store.member_users_by_email(conn, org_id, emails)

    def author_of(name: str | None, email: str | None) -> dict | None:
        return shapes.author(name, email, members.get(email.lower())) if email else None

    described = []
    for row in rows:
        counts = [(p, stats.get((p.id, row.version))) for p in linked[row.id]]
        firsts = [s.first_event for _, s in counts if s is not None and s.first_event is not None]
        lasts = [s.last_event for _, s in counts if s is not None and s.last_event is not None]
        commit = last_commits.get((row.last_commit_repository_id, row.last_commit_key))
        repository = repositories.get(row.last_commit_repository_id)
        described.append(shapes.release(
            row,
            projects=[shapes.release_project(p, s.new_groups if s else 0) for p, s in counts],
            new_groups=sum(s.new_groups for _, s in counts if s is not None),
            first_event=min(firsts, default=None), last_event=max(lasts, default=None),
            last_commit=shapes.commit(commit, shapes.repository(repository) if repository else None,
                                      author_of(commit.author_name, commit.author_email)) if commit else None,
            last_deploy=shapes.deploy(deploys[row.last_deploy_id]) if row.last_deploy_id in deploys else None,
            authors=unique_authors([author_of(a['name'], a['email']) for a in row.authors]),
        ))
    return described


def unique_authors(authors: list[dict | None]) -> list[dict]:
    """One entry per email: two commit emails of one user show that user once."""
    seen, unique = set(), []
    for author in authors:
        if author is not None and author['email'] not in seen:
            seen.add(author['email'])
            unique.append(author)
    return unique


def may_see(conn: Connection, row: Row, team_ids: set[str] | None) -> bool:
    """A caller sees a release through one of its projects (all of them: every release)."""
    if team_ids is None:
        return True
    return any(p.team_id in team_ids for p in store.projects_of_releases(conn, [row.id])[row.id])


@dataclass(frozen=True)
class Found:
    """A release named in a URL, with its organization (and project at project level)."""

    org: Row
    release: Row
    project: Row | None = None


def find_release(access: Access, conn: Connection, org: str, version: str, needed: tuple[str, ...] | None,
                 project: str | None = None, hidden: falcon.HTTPError | None = None) -> Found:
    """404 for an unknown version (or one not in the project); `hidden` (default 403) when
    the caller may see none of its projects."""
    project_row = None
    if project is not None:
        org_row, project_row = find_project(access, conn, org, project, needed)
    else:
        org_row = access.organization(conn, org, needed)
    row = store.release_by_version(conn, org_row.id, version)
    if row is None:
        raise not_found()
    if project_row is not None:
        if project_row.id not in {p.id for p in store.projects_of_releases(conn, [row.id])[row.id]}:
            raise not_found()
    elif not may_see(conn, row, access.team_ids(conn, org_row)):
        raise hidden or forbidden()
    return Found(org_row, row, project_row)


def status_filter(req: falcon.Request) -> str | None:
    """`status` defaults to open; empty means any; anything else is refused."""
    status = req.params.get('status', 'open')
    if status and status not in STATUSES:
        raise falcon.HTTPBadRequest(description='invalid value for status')
    return status or None


# --- resources ---------------------------------------------------------------------------------------

class ReleaseListBase(Resource):
    scopes = RELEASE_SCOPES

    def _list(self, req: falcon.Request, resp: falcon.Response, conn: Connection, org_row: Row,
              project: Row | None) -> None:
        query = store.releases_query(org_row.id, self.access(req).team_ids(conn, org_row),
                                     project.id if project is not None else None,
                                     prefix=req.get_param('query'), status=status_filter(req))
        page = paginate(conn, query, store.releases.c.sort_date, descending=True, cursor=cursor_param(req),
                        limit=page_size(req), tiebreak=store.releases.c.number)
        set_link(resp, req, self.services.config.url_prefix, page)
        resp.media = describe(conn, org_row.id, page.rows, project)

    def _create(self, req: falcon.Request, resp: falcon.Response, org_row: Row, body: dict,
                project_ids: list[str], project: Row | None) -> None:
        status = body.get('status')
        outcome = self.services.execute(CreateRelease(
            organization_id=UUID(org_row.id), version=fields.required(body, 'version'),
            project_ids=tuple(UUID(p) for p in project_ids), ref=fields.optional_string('ref', body.get('ref'),
                                                                                      MAX_VERSION_LENGTH) or None,
            url=parse_url('url', body.get('url')), date_started=parse_date('dateStarted', body.get('dateStarted')),
            date_released=parse_date('dateReleased', body.get('dateReleased')), status=status,
            commits=commits_of(body), refs=parse_refs(body), actor=self.auth(req).actor(),
        ))
        with self.services.read() as conn:
            row = store.release_by_id(conn, str(outcome.data['release_id']))
            resp.media = describe(conn, org_row.id, [row], project)[0]
        resp.status = falcon.HTTP_201 if outcome.data['created'] else falcon.HTTP_208


class OrganizationReleaseListResource(ReleaseListBase):
    """Releases of the projects the caller may access, newest first; creating one for
    some of those projects (idempotent: 201 when something was new, 208 otherwise)."""

    api = Api(get=Op(returns=ok(['Release']), paged=True, query=LIST_QUERY),
              post=Op(body='ReleaseCreate', returns=CREATED_OR_KNOWN, links=(
                  Link('/api/0/organizations/{org}/releases/{version}/',
                       {'org': '$request.path.org', 'version': '$response.body#/version'}),
                  Link('/api/0/organizations/{org}/releases/{version}/deploys/',
                       {'org': '$request.path.org', 'version': '$response.body#/version'}))))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        with self.services.read() as conn:
            org_row = self.access(req).organization(conn, org, self.needed(req))
            self._list(req, resp, conn, org_row, None)

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        body = read_fields(req)
        with self.services.read() as conn:
            access = self.access(req)
            org_row = access.organization(conn, org, self.needed(req))
            fields.required(body, 'version')
            project_ids = self._projects(conn, access, org_row, body)
        self._create(req, resp, org_row, body, project_ids, None)

    @staticmethod
    def _projects(conn: Connection, access: Access, org_row: Row, body: dict) -> list[str]:
        """The named projects (slugs or ids) the caller may access. A release that exists
        already must be one the caller may act on."""
        if body.get('projects') is None:
            raise FieldErrors({'projects': ['This field is required.']})
        names = body['projects']
        if not isinstance(names, list):
            raise FieldErrors({'projects': ['Expected a list of project slugs.']})
        team_ids = access.team_ids(conn, org_row)
        allowed = {}
        for row in conn.execute(catalog.projects_visible([(org_row.id, team_ids)])):
            allowed[row.slug] = allowed[str(row.number)] = row.id
        if any(str(name) not in allowed for name in names):
            raise FieldErrors({'projects': ['Invalid project slugs']})
        existing = store.release_by_version(conn, org_row.id, body['version']) \
            if isinstance(body.get('version'), str) else None
        if existing is not None and not may_see(conn, existing, team_ids):
            raise FieldErrors({'projects': ['You do not have permission to one of the projects of this release.']})
        return [allowed[str(name)] for name in names]


class ReleaseDetailBase(Resource):
    scopes = RELEASE_SCOPES

    def _found(self, req: falcon.Request, conn: Connection, org: str, version: str,
               project: str | None) -> Found:
        return find_release(self.access(req), conn, org, version, self.needed(req), project)

    def _get(self, req: falcon.Request, resp: falcon.Response, org: str, version: str,
             project: str | None) -> None:
        with self.services.read() as conn:
            found = self._found(req, conn, org, version, project)
            resp.media = describe(conn, found.org.id, [found.release], found.project)[0]

    def _put(self, req: falcon.Request, resp: falcon.Response, org: str, version: str,
             project: str | None) -> None:
        body = read_fields(req)
        with self.services.read() as conn:
            found = self._found(req, conn, org, version, project)
        self.services.execute(UpdateRelease(release_id=UUID(found.release.id), changes=release_changes(body),
                                            commits=commits_of(body), refs=parse_refs(body),
                                            actor=self.auth(req).actor()))
        with self.services.read() as conn:
            row = store.release_by_id(conn, found.release.id)
            resp.media = describe(conn, found.org.id, [row], found.project)[0]

    def _delete(self, req: falcon.Request, resp: falcon.Response, org: str, version: str,
                project: str | None) -> None:
        """Refused while an issue first seen in the release is alive, as in Sentry."""
        with self.services.read() as conn:
            found = self._found(req, conn, org, version, project)
            if store.is_referenced(conn, found.release):
                raise falcon.HTTPBadRequest(description=REFERENCED)
        self.services.execute(DeleteRelease(release_id=UUID(found.release.id), actor=self.auth(req).actor()))
        resp.status = falcon.HTTP_204


class OrganizationReleaseResource(ReleaseDetailBase):
    """One release of the organization."""

    api = DETAIL

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, version: str) -> None:
        self._get(req, resp, org, version, None)

    def on_put(self, req: falcon.Request, resp: falcon.Response, org: str, version: str) -> None:
        self._put(req, resp, org, version, None)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, version: str) -> None:
        self._delete(req, resp, org, version, None)


class ReleaseCommitListResource(Resource):
    """The release's commits, newest first, paginated; at organization or project level."""

    scopes = {'GET': RELEASE_SCOPES['GET']}
    api = Api(get=Op(returns=ok(['Commit']), paged=True))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, version: str,
               project: str | None = None) -> None:
        with self.services.read() as conn:
            found = find_release(self.access(req), conn, org, version, self.needed(req), project)
            respond_commits(req, resp, self.services, conn, found.org.id,
                            store.release_commits_query(found.release.id), store.release_commits.c.position,
                            descending=False)


def respond_commits(req: falcon.Request, resp: falcon.Response, services: Services, conn: Connection,
                    org_id: str, query: Any, key: Any, descending: bool) -> None:
    repository_of = cache(lambda rid: store.repositories_by_ids(conn, {rid}).get(rid))
    user_of = cache(lambda email: store.member_users_by_email(conn, org_id, {email}).get(email))

    def serialize(row: Row) -> dict:
        repository = repository_of(row.repository_id)
        author = shapes.author(row.author_name, row.author_email, user_of(row.author_email.lower())) \
            if row.author_email else None
        return shapes.commit(row, shapes.repository(repository) if repository else None, author)

    respond_with_page(req, resp, services.config.url_prefix, conn, query, key, serialize, descending=descending)


class PreviousReleaseResource(Resource):
    """The latest earlier release with commits (`{}` when there is none): where
    `sentry-cli releases set-commits --local` starts its walk."""

    scopes = {'GET': RELEASE_SCOPES['GET']}
    api = Api(get=Op(returns=ok('PreviousRelease')))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, version: str) -> None:
        with self.services.read() as conn:
            found = find_release(self.access(req), conn, org, version, self.needed(req), hidden=not_found())
            previous = store.previous_with_commits(conn, found.release)
            resp.media = describe(conn, found.org.id, [previous])[0] if previous is not None else {}


class DeployListResource(Resource):
    """A release's deploys, latest finish first; recording one (`environment` required,
    `dateFinished` now unless given)."""

    scopes = RELEASE_SCOPES
    api = Api(get=Op(returns=ok(['Deploy']), paged=True),
              post=Op(body='DeployCreate', returns={201: 'Deploy'}, summary='Record a deploy of the release.'))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, version: str) -> None:
        with self.services.read() as conn:
            found = find_release(self.access(req), conn, org, version, self.needed(req))
            respond_with_page(req, resp, self.services.config.url_prefix, conn, store.deploys_query(found.release.id),
                              store.deploys.c.date_finished, shapes.deploy, tiebreak=store.deploys.c.number)

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str, version: str) -> None:
        body = read_fields(req)
        environment = fields.string('environment', fields.required(body, 'environment'), 64)
        name = fields.optional_string('name', body.get('name'), 64)
        with self.services.read() as conn:
            found = find_release(self.access(req), conn, org, version, self.needed(req))
        outcome = self.services.execute(CreateDeploy(
            release_id=UUID(found.release.id), environment=environment, name=name or None,
            url=parse_url('url', body.get('url')), date_started=parse_date('dateStarted', body.get('dateStarted')),
            date_finished=parse_date('dateFinished', body.get('dateFinished')) or now_ms(),
            actor=self.auth(req).actor(),
        ))
        with self.services.read() as conn:
            resp.media = shapes.deploy(store.deploys_by_ids(conn, {str(outcome.data['deploy_id'])})
                                       [str(outcome.data['deploy_id'])])
        resp.status = falcon.HTTP_201


class ProjectReleaseListResource(ReleaseListBase):
    """The project's releases; creating one in the project (201 or 208)."""

    api = Api(get=Op(returns=ok(['Release']), paged=True, query=LIST_QUERY),
              post=Op(body='ProjectReleaseCreate', returns=CREATED_OR_KNOWN, links=(
                  Link('/api/0/projects/{org}/{project}/releases/{version}/',
                       {'org': '$request.path.org', 'project': '$request.path.project',
                        'version': '$response.body#/version'}),)))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        with self.services.read() as conn:
            org_row, project_row = find_project(self.access(req), conn, org, project, self.needed(req))
            self._list(req, resp, conn, org_row, project_row)

    def on_post(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        body = read_fields(req)
        with self.services.read() as conn:
            org_row, project_row = find_project(self.access(req), conn, org, project, self.needed(req))
        self._create(req, resp, org_row, body, [project_row.id], project_row)


class ProjectReleaseResource(ReleaseDetailBase):
    """One release of the project."""

    api = DETAIL

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str, version: str) -> None:
        self._get(req, resp, org, version, project)

    def on_put(self, req: falcon.Request, resp: falcon.Response, org: str, project: str, version: str) -> None:
        self._put(req, resp, org, version, project)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, org: str, project: str, version: str) -> None:
        self._delete(req, resp, org, version, project)


def routes(services: Services) -> list[tuple[str, Resource]]:
    commits = ReleaseCommitListResource(services)
    return [
        ('/api/0/organizations/{org}/releases/', OrganizationReleaseListResource(services)),
        ('/api/0/organizations/{org}/releases/{version}/', OrganizationReleaseResource(services)),
        ('/api/0/organizations/{org}/releases/{version}/commits/', commits),
        ('/api/0/organizations/{org}/releases/{version}/previous-with-commits/', PreviousReleaseResource(services)),
        ('/api/0/organizations/{org}/releases/{version}/deploys/', DeployListResource(services)),
        ('/api/0/projects/{org}/{project}/releases/', ProjectReleaseListResource(services)),
        ('/api/0/projects/{org}/{project}/releases/{version}/', ProjectReleaseResource(services)),
        ('/api/0/projects/{org}/{project}/releases/{version}/commits/', commits),
    ]
