"""The issue stream and each issue's own endpoints.

Lists: `projects/{org}/{project}/issues/` (alias `groups/`), the overview's
numeric `projects/{project_id}/groups/` (and `issues/`), and the org-wide
`organizations/{org}/issues/` (`project=<id>` repeated); each answers GET
(search, sort, keyset pages, direct hits), PUT (bulk edit: the `id`s given, or
the first 1,000 issues the search finds, Sentry's cap) and DELETE (bulk delete
by `id`). One issue: `issues/{issue}/` (alias `groups/`) GET, PUT, DELETE, with
`hashes/`, `tags/…`, `activity/` and `participants/`.

Reads over ingested data catch the read models up first (`IngestedResource`):
an event accepted before a GET is in its answer.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import falcon
from sqlalchemy import Connection, Select
from sqlalchemy.engine import Row
from sqlalchemy.sql import ColumnElement

from sentrail.commands.issues import MAX_BULK, NO_RELEASE, UNKNOWN_RELEASE, DeleteIssues, UpdateIssues
from sentrail.domain.group import ignore_maximum
from sentrail.domain.roles import ROLES
from sentrail.domain.sequence import public_number
from sentrail.http.auth import Access, Auth
from sentrail.http import fields
from sentrail.http.errors import FieldErrors, forbidden, not_found
from sentrail.http.media import dumps
from sentrail.http.pagination import cursor_param, page_size, set_link
from sentrail.http.payload import read_json
from sentrail.http.resource import Resource
from sentrail.http.resources.projects import find_project
from sentrail.http.resources.releases import describe
from sentrail.http.serializers.activity import activity_entry, first_seen_entry
from sentrail.http.serializers.events import event as serialize_event
from sentrail.http.serializers.issues import (Viewing, group, group_detail, group_hash, parse_short_id, seen_by,
                                              status_answer, stream_group)
from sentrail.http.serializers.tags import group_tag_key, standard_key, tag_value
from sentrail.http.serializers.users import user as serialize_user
from sentrail.projections import catalog, events, issues, organizations, projects, stats, tags
from sentrail.projections import releases as release_store
from sentrail.projections.issue_search import (SORTS, InvalidQuery, IssueQuery, Searcher, issues_query,
                                               parse_issue_query, with_filters)
from sentrail.projections.issues import group_hashes, groups
from sentrail.projections.keyset import Page, count_hits, paginate
from sentrail.projections.stats import DAY, HOUR
from sentrail.services import Services

# GroupPermission (every /issues/{id}/… path), ProjectEventPermission (the project
# list) and OrganizationEventPermission (the org-wide list) share this map.
GROUP_SCOPES = {
    'GET': ('event:read', 'event:write', 'event:admin'),
    'POST': ('event:write', 'event:admin'),
    'PUT': ('event:write', 'event:admin'),
    'DELETE': ('event:admin',),
}

# statsPeriod of the issue list -> (rollup in seconds, buckets)
STREAM_PERIODS = {'24h': (HOUR, 24), '14d': (DAY, 14)}
INVALID_STREAM_PERIOD = "Invalid stats_period. Valid choices are '', '24h', and '14d'"
NO_IDS = 'You must specify a list of IDs for this operation'
MAX_HITS = 1000
TAG_LIST_TOP_VALUES, TAG_DETAIL_TOP_VALUES = 10, 9
EVENT_ID_LENGTH = 32
OLD_STATUSES = ('resolved', 'unresolved', 'ignored', 'muted')
STATUS_INPUTS = ('resolved', 'unresolved', 'ignored', 'resolvedInNextRelease', 'muted')
SNOOZE_FIELDS = ('ignoreDuration', 'ignoreCount', 'ignoreWindow', 'ignoreUserCount', 'ignoreUserWindow')
FLAG_FIELDS = {'hasSeen': 'seen', 'isBookmarked': 'bookmarked', 'isSubscribed': 'subscribed',
               'isPublic': 'is_public', 'merge': 'merge'}


class IngestedResource(Resource):
    """A resource over ingested data: its reads catch the projections up first
    (cheap when they are current), for read-your-writes after ingestion."""

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        self.current()
        with self.services.read() as conn:
            yield conn

    def current(self, req: falcon.Request | None = None) -> int:
        """Bring the read models up to the log's head (one small query when they are
        there already, none when the request's authentication asked it); the head
        they reflect at least."""
        state = getattr(req.context, 'log_state', None) if req is not None else None
        head, slowest = state or self.services.log_state()
        if not self.services.config.read_only and head > slowest:
            self.services.runner.catch_up()
        return head


@dataclass(frozen=True)
class Issue:
    org: Row
    project: Row
    group: Row


def authorize_project(access: Access, conn: Connection, project_id: str, needed: tuple[str, ...] | None) -> tuple:
    """(organization, project) of something found by id: the caller needs the
    scope in the organization and access to the project's team."""
    project = projects.project_by_id(conn, project_id)
    org = organizations.org_by_id(conn, project.organization_id) if project is not None else None
    if org is None:
        raise not_found()
    access.require(conn, org, needed)
    access.require_team(conn, org, project.team_id)
    return org, project


def find_issue(access: Access, conn: Connection, issue: str, needed: tuple[str, ...] | None) -> Issue:
    """An issue by its public id; 404 when unknown, deleted or merged away, 403 without access."""
    number = public_number(issue)
    row = issues.group_by_number(conn, number) if number is not None else None
    if row is None:
        raise not_found()
    org, project = authorize_project(access, conn, row.project_id, needed)
    return Issue(org, project, row)


def page_of(req: falcon.Request, resp: falcon.Response, url_prefix: str, conn: Connection, stmt: Select,
            key: ColumnElement[Any], *, descending: bool = True, tiebreak: ColumnElement[Any] | None = None,
            size_param: str = 'per_page') -> Page:
    """One keyset page with its Link header, for lists that render a page at once."""
    page = paginate(conn, stmt, key, descending=descending, cursor=cursor_param(req),
                    limit=page_size(req, size_param), tiebreak=tiebreak)
    set_link(resp, req, url_prefix, page)
    return page


def graphs(conn: Connection, group_ids: list[str], rollup: int, count: int) -> dict[str, list]:
    """Each issue's event counts over the last `count` buckets of `rollup` seconds."""
    buckets = stats.last_buckets(time.time(), rollup, count)
    return stats.series(conn, 'group', group_ids, buckets, rollup)


def now_ms() -> int:
    return int(time.time() * 1000)


def viewing(conn: Connection, auth: Auth, rows: list[Row]) -> Viewing:
    """The caller's marks on these issues and the users their assignees and status changes name."""
    user_id = auth.user.id if auth.user is not None else None
    actors = {(row.status_details or {}).get('actor') for row in rows} - {None}
    return Viewing(now=now_ms(), marks=issues.marks_of(conn, user_id, [row.id for row in rows]),
                   users=issues.users_by_ids(conn, {row.assignee_id for row in rows}),
                   actors=issues.users_by_public_ids(conn, actors))


def searcher(auth: Auth) -> Searcher:
    return Searcher(user_id=auth.user.id if auth.user is not None else None, now=now_ms())


def is_project_member(conn: Connection, org: Row, project: Row, user_id: str) -> bool:
    """Sentry's `project.member_set`: a member of the organization who may act on the project's team."""
    member = organizations.membership(conn, org.id, user_id)
    if member is None:
        return False
    if ROLES[member.role]['is_global'] or (org.flags or {}).get('open_membership'):
        return True
    return project.team_id in organizations.team_ids_of_member(conn, member.id)


# --- the stream: which projects, which issues ----------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """The projects a list or bulk request covers, all of one organization."""

    org: Row
    projects: list[Row]

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.projects]

    def project(self, project_id: str) -> Row:
        return next(p for p in self.projects if p.id == project_id)


def organization_scope(access: Access, conn: Connection, req: falcon.Request, org: str,
                       needed: tuple[str, ...] | None) -> Scope:
    """The organization's projects the caller may act on, narrowed by `project=<id>`
    (repeated; `-1` means all); naming one out of reach is refused."""
    org_row = access.organization(conn, org, needed)
    visible = conn.execute(catalog.projects_visible([(org_row.id, access.team_ids(conn, org_row))])).all()
    wanted = [p for p in req.get_param_as_list('project') or [] if p != '-1']
    if not wanted:
        return Scope(org_row, sorted(visible, key=lambda p: p.number))
    by_number = {str(p.number): p for p in visible}
    if any(p not in by_number for p in wanted):
        raise forbidden()
    return Scope(org_row, [by_number[p] for p in dict.fromkeys(wanted)])


def stream_search(req: falcon.Request) -> IssueQuery:
    """The list's `query` and Sentry's old top-level filters; no query at all means unresolved issues."""
    status = req.get_param('status') or None
    if status is not None and status not in OLD_STATUSES:
        raise falcon.HTTPBadRequest(description='invalid status')
    try:
        search = parse_issue_query(req.get_param('query', default=None))
        return with_filters(search, status=status, bookmarks=req.get_param('bookmarks') == '1',
                            assigned=req.get_param('assigned') == '1')
    except InvalidQuery as error:
        raise falcon.HTTPBadRequest(description=str(error)) from None


def sort_key(req: falcon.Request) -> ColumnElement[Any]:
    sort = req.get_param('sort') or 'date'
    if sort not in SORTS:
        raise falcon.HTTPBadRequest(description=f'Invalid sort: {sort}')
    return SORTS[sort]


def stream_period(req: falcon.Request) -> str | None:
    """The list's graph period: 24h unless asked otherwise, none for `statsPeriod=`."""
    period = req.get_param('statsPeriod', default='24h')
    if period and period not in STREAM_PERIODS:
        raise falcon.HTTPBadRequest(description=INVALID_STREAM_PERIOD)
    return period or None


def selected(req: falcon.Request, conn: Connection, scope: Scope, auth: Auth) -> list[Row]:
    """What a bulk request acts on: the `id`s given (those in scope), or else the
    first 1,000 issues the list's query and filters find, in the list's order."""
    ids = req.get_param_as_list('id')
    if ids:
        numbers = [n for n in (public_number(i) for i in ids) if n is not None]
        return issues.groups_by_numbers(conn, scope.ids, numbers)
    key = sort_key(req)
    query = issues_query(scope.ids, stream_search(req), searcher(auth))
    return conn.execute(query.order_by(key.desc(), groups.c.number.desc()).limit(MAX_BULK)).all()


class StreamAnswer:
    """Answers the issue list for a scope: a direct hit on an event id or a short
    id, or one keyset page of the search with X-Hits and each issue's graph."""

    def __init__(self, services: Services, req: falcon.Request, resp: falcon.Response, conn: Connection,
                 access: Access) -> None:
        self.services, self.req, self.resp, self.conn, self.access = services, req, resp, conn, access
        self.prefix = services.config.url_prefix

    def respond(self, scope: Scope) -> None:
        period = stream_period(self.req)
        search, key = stream_search(self.req), sort_key(self.req)
        if self.direct_hit(scope, period):
            return
        query = issues_query(scope.ids, search, searcher(self.access.auth))
        page = page_of(self.req, self.resp, self.prefix, self.conn, query, key, tiebreak=groups.c.number,
                       size_param='limit')
        # Counted over one narrow column: SQLite then decodes no more of each row than it must.
        hits = count_hits(self.conn, query.with_only_columns(groups.c.project_id), MAX_HITS)
        self.resp.set_header('X-Hits', str(hits))
        self.resp.set_header('X-Max-Hits', str(MAX_HITS))
        self.resp.media = self.shapes(scope, page.rows, period)

    def shapes(self, scope: Scope, rows: list[Row], period: str | None, matching: str | None = None) -> list:
        found = {group_id: {period: series}
                 for group_id, series in graphs(self.conn, [r.id for r in rows], *STREAM_PERIODS[period]).items()
                 } if period and rows else {}
        seen = viewing(self.conn, self.access.auth, rows)
        return [stream_group(row, scope.project(row.project_id), scope.org, self.prefix, seen, found.get(row.id),
                             matching) for row in rows]

    def direct_hit(self, scope: Scope, period: str | None) -> bool:
        """A query that is an event id of these projects, or (with `shortIdLookup=1`)
        a short id of the organization, answers with that one issue."""
        text = (self.req.get_param('query') or '').strip()
        matching = None
        row = None
        if len(text) == EVENT_ID_LENGTH and all(c in '0123456789abcdefABCDEF' for c in text):
            event = next(filter(None, (events.event_by_client_id(self.conn, p, text.lower()) for p in scope.ids)),
                         None)
            if event is not None:
                row, matching = issues.group_by_id(self.conn, event.group_id), str(event.id)
        if row is None and self.req.get_param('shortIdLookup') == '1':
            row, scope = self.short_id_hit(scope, text)
        if row is None:
            return False
        self.resp.set_header('X-Sentry-Direct-Hit', '1')
        self.resp.media = self.shapes(scope, [row], period, matching)
        return True

    def short_id_hit(self, scope: Scope, text: str) -> tuple[Row | None, Scope]:
        parsed = parse_short_id(text)
        project = projects.project_by_slug(self.conn, scope.org.id, parsed[0]) if parsed else None
        if project is None:
            return None, scope
        allowed = self.access.team_ids(self.conn, scope.org)
        if allowed is not None and project.team_id not in allowed:
            return None, scope
        return issues.group_by_short_id(self.conn, project.id, parsed[1]), Scope(scope.org, [project])


# --- bulk edit and delete -----------------------------------------------------------------------------

@dataclass
class Edit:
    """A bulk edit's validated body, before it meets what it selects. `status` is
    resolved, unresolved or ignored; `resolution` in_release or in_next_release
    (then `in_release` is a version or 'latest'); `snooze` the ignore's conditions;
    `assignee_ref` the user `assignedTo` names (None: unassign)."""

    status: str | None = None
    resolution: str | None = None
    in_release: str | None = None
    by_details: bool = False
    snooze: dict = field(default_factory=dict)
    assign: bool = False
    assignee_ref: str | None = None
    is_public: bool | None = None
    bookmarked: bool | None = None
    subscribed: bool | None = None
    seen: bool | None = None
    merge: bool = False
    asked: dict = field(default_factory=dict)

    def release_error(self) -> falcon.HTTPError:
        """Sentry's messages: the statusDetails validator's, or (for status
        resolvedInNextRelease, where 8.22 fails) the one 8.0 answered with."""
        if not self.by_details:
            return falcon.HTTPBadRequest(description=NO_RELEASE)
        name = 'inNextRelease' if self.resolution == 'in_next_release' else 'inRelease'
        message = UNKNOWN_RELEASE if self.in_release not in (None, 'latest') else NO_RELEASE
        return FieldErrors({'statusDetails': [{name: [message]}]})


def nested(check: Callable[..., Any], name: str, value: Any, *args: Any) -> Any:
    """A statusDetails field, whose errors DRF 2 nests as {"statusDetails": [{name: [msg]}]}."""
    try:
        return check(name, value, *args)
    except FieldErrors as error:
        raise FieldErrors({'statusDetails': [error.body]}) from None


def snooze_value(name: str, value: Any) -> int:
    return fields.integer(name, value, minimum=0, maximum=ignore_maximum(name))


def parse_snooze(body: dict, details: dict) -> dict:
    """The ignore's conditions, from statusDetails first, then the top-level fields
    (`snoozeDuration` is the old name of `ignoreDuration`; nulls are no condition)."""
    snooze = {}
    for name in SNOOZE_FIELDS:
        aliases = (name, 'snoozeDuration') if name == 'ignoreDuration' else (name,)
        for alias in aliases:
            if details.get(alias) is not None and name not in snooze:
                snooze[name] = nested(snooze_value, alias, details[alias])
        for alias in aliases:
            if body.get(alias) is not None and name not in snooze:
                snooze[name] = snooze_value(alias, body[alias])
    return snooze


def parse_edit(body: dict) -> Edit:
    """Validate every field before anything changes (DRF 2's messages and shapes)."""
    edit = Edit()
    status = body.get('status')
    if status is not None:
        fields.choice('status', status, STATUS_INPUTS)
    details = body.get('statusDetails') or {}
    if not isinstance(details, dict):
        raise FieldErrors({'statusDetails': ['Invalid data']})
    next_release = details.get('inNextRelease') is not None and nested(fields.boolean, 'inNextRelease',
                                                                        details['inNextRelease'])
    in_release = details.get('inRelease')
    if in_release not in (None, ''):
        edit.in_release = nested(fields.string, 'inRelease', in_release, 200)
    if status == 'resolvedInNextRelease' or next_release:
        edit.status, edit.resolution, edit.by_details = 'resolved', 'in_next_release', bool(next_release)
    elif edit.in_release is not None:
        edit.status, edit.resolution, edit.by_details = 'resolved', 'in_release', True
    elif status is not None:
        edit.status = 'ignored' if status == 'muted' else status
    snooze = parse_snooze(body, details)
    if edit.status == 'ignored':
        edit.snooze = snooze
    parse_other(body, edit)
    return edit


def parse_other(body: dict, edit: Edit) -> None:
    if body.get('discard'):
        raise FieldErrors({'detail': ['You do not have that feature enabled']})
    if 'assignedTo' in body:
        edit.assign = True
        reference = body['assignedTo']
        if isinstance(reference, bool) or not isinstance(reference, (str, int, type(None))):
            raise FieldErrors({'assignedTo': ['Unable to find user']})
        edit.assignee_ref = str(reference) if reference not in (None, '') else None
    for name, attribute in FLAG_FIELDS.items():
        if body.get(name) is not None:
            value = fields.boolean(name, body[name])
            setattr(edit, attribute, value)
            edit.asked[name] = value


def latest_release(conn: Connection, org_id: str, project_id: str) -> Row | None:
    query = release_store.releases_query(org_id, None, project_id)
    return conn.execute(query.order_by(release_store.releases.c.sort_date.desc(),
                                       release_store.releases.c.number.desc()).limit(1)).first()


def linked_release(conn: Connection, org_id: str, project_id: str, version: str) -> Row | None:
    found = release_store.release_by_version(conn, org_id, version)
    if found is None or project_id not in {p.id for p in release_store.projects_of_releases(conn, [found.id])[found.id]}:
        return None
    return found


def resolution_releases(conn: Connection, edit: Edit, scope: Scope, rows: list[Row]) -> tuple:
    """The release each project resolves in: its latest for the next release (or
    `latest`), else the named one, which must be the project's."""
    if edit.resolution is None:
        return ()
    wanted = scope.projects if len(scope.projects) == 1 else \
        [scope.project(pid) for pid in dict.fromkeys(r.project_id for r in rows)]
    chosen = []
    for project in wanted:
        if edit.resolution == 'in_next_release' or edit.in_release == 'latest':
            release = latest_release(conn, scope.org.id, project.id)
        else:
            release = linked_release(conn, scope.org.id, project.id, edit.in_release)
        if release is None:
            raise edit.release_error()
        chosen.append((UUID(project.id), UUID(release.id)))
    return tuple(chosen)


def assignee(conn: Connection, edit: Edit, scope: Scope, rows: list[Row]) -> tuple | None:
    """(id, public id, email) of the user `assignedTo` names, who must be a member of every issue's project."""
    if edit.assignee_ref is None:
        return None
    found = issues.user_by_reference(conn, edit.assignee_ref)
    if found is None:
        raise FieldErrors({'assignedTo': ['Unable to find user']})
    for project_id in {r.project_id for r in rows} or set(scope.ids[:1]):
        if not is_project_member(conn, scope.org, scope.project(project_id), found.id):
            raise FieldErrors({'assignedTo': ['Cannot assign to non-team member']})
    return found.id, str(found.number), found.email


def edit_issues(services: Services, req: falcon.Request, conn: Connection, scope: Scope, rows: list[Row],
                edit: Edit) -> dict:
    """Validate the edit against what it selected, run it as one command, and say what changed."""
    auth: Auth = req.context.auth
    if edit.merge and len({r.project_id for r in rows}) > 1:
        raise falcon.HTTPBadRequest(description='Merging across multiple projects is not supported')
    releases = resolution_releases(conn, edit, scope, rows)
    chosen = assignee(conn, edit, scope, rows) if edit.assign else None
    user_id = auth.user.id if auth.user is not None else None
    member = user_id is not None and all(is_project_member(conn, scope.org, scope.project(pid), user_id)
                                         for pid in {r.project_id for r in rows})
    ordered = sorted(rows, key=lambda r: (-r.times_seen, r.number)) if edit.merge else rows
    outcome = None
    if rows:
        outcome = services.execute(UpdateIssues(
            group_ids=tuple(UUID(r.id) for r in ordered), actor=auth.actor(),
            user_id=UUID(user_id) if user_id else None, status=edit.status, resolution=edit.resolution,
            releases=releases, snooze=edit.snooze, assign=edit.assign, assignee=chosen, is_public=edit.is_public,
            bookmarked=edit.bookmarked, subscribed=edit.subscribed, seen=edit.seen if member else None,
            merge=edit.merge))
    return answer(conn, edit, outcome.data if outcome else {}, auth, releases, chosen)


def answer(conn: Connection, edit: Edit, done: dict, auth: Auth, releases: tuple, chosen: tuple | None) -> dict:
    """The fields asked for, as Sentry echoes them: the status with its
    statusDetails, the assignee as a user, the subscription's reason, the share id
    and the merge's parent and children."""
    body: dict = {}
    if edit.status is not None:
        version = None
        if releases and edit.resolution == 'in_release':
            version = release_store.release_by_id(conn, str(releases[-1][1])).version
        acting = serialize_user(auth.user) if auth.user is not None else None
        body.update(status_answer(edit.status, edit.resolution, version, edit.snooze, done.get('until'), acting))
    if edit.assign:
        found = issues.user_by_reference(conn, chosen[1]) if chosen else None
        body['assignedTo'] = serialize_user(found) if found is not None else None
    body.update(edit.asked)
    if 'isSubscribed' in edit.asked:
        body['subscriptionDetails'] = {'reason': 'unknown'}
    if 'isPublic' in edit.asked:
        shares = done.get('shares') or {}
        body['shareId'] = list(shares.values())[-1] if edit.is_public and shares else None
    if edit.merge and done.get('merge'):
        body['merge'] = done['merge']
    return body


@dataclass(frozen=True)
class Answer:
    body: bytes
    headers: tuple
    head: int
    expires: float


class AnswerCache:
    """Issue-list answers kept per worker for the same request by the same
    credential, because dashboards and CLIs poll the same list over and over.

    An answer is reused only while the event log's head is where it was (any
    write anywhere, including to who may see what, misses) and until the first
    moment it could change with time alone: its graphs' next bucket, an ignore
    in its projects lapsing, or `MAX_AGE` seconds (relative-date searches). A
    request with `Cache-Control: no-cache` is answered afresh.
    """

    MAX_AGE = 2.0
    SIZE = 256
    HEADERS = ('Link', 'X-Hits', 'X-Max-Hits', 'X-Sentry-Direct-Hit')

    def __init__(self) -> None:
        self.entries: OrderedDict[tuple, Answer] = OrderedDict()
        self.lock = threading.Lock()

    @staticmethod
    def key(req: falcon.Request) -> tuple | None:
        if 'no-cache' in (req.get_header('Cache-Control') or ''):
            return None
        auth: Auth = req.context.auth
        credential = auth.api_key or auth.token or auth.session
        return (req.path, req.query_string, auth.kind, credential.id if credential is not None else None)

    def get(self, key: tuple | None, head: int) -> Answer | None:
        if key is None:
            return None
        with self.lock:
            answer = self.entries.get(key)
            if answer is None or answer.head != head or answer.expires <= time.time():
                return None
            self.entries.move_to_end(key)
            return answer

    def put(self, key: tuple, resp: falcon.Response, head: int, expires: float) -> None:
        """Keep the answer (rendered here for the response too, so it is rendered once)."""
        resp.data = dumps(resp.media)
        headers = tuple((name, resp.get_header(name)) for name in self.HEADERS if resp.get_header(name))
        with self.lock:
            self.entries[key] = Answer(resp.data, headers, head, min(expires, time.time() + self.MAX_AGE))
            self.entries.move_to_end(key)
            while len(self.entries) > self.SIZE:
                self.entries.popitem(last=False)

    @staticmethod
    def answer(resp: falcon.Response, answer: Answer) -> None:
        resp.data = answer.body
        resp.content_type = falcon.MEDIA_JSON
        for name, value in answer.headers:
            resp.set_header(name, value)


def changes_by_time(req: falcon.Request, conn: Connection, scope: Scope) -> float:
    """When an issue list could first look different with no event: its graphs' next
    bucket, or the first ignore in its projects that lapses."""
    period = stream_period(req)
    moment = time.time()
    edge = (moment // STREAM_PERIODS[period][0] + 1) * STREAM_PERIODS[period][0] if period else moment + 86400
    lapse = issues.next_lapse(conn, scope.ids, int(moment * 1000))
    return min(edge, lapse / 1000) if lapse is not None else edge


class IssueListBase(IngestedResource):
    """GET, PUT and DELETE of an issue list; subclasses say which projects it covers."""

    scopes = GROUP_SCOPES

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.cache = AnswerCache()

    def scope(self, req: falcon.Request, conn: Connection, **params: str) -> Scope:
        raise NotImplementedError

    def on_get(self, req: falcon.Request, resp: falcon.Response, **params: str) -> None:
        head, key = self.current(req), self.cache.key(req)
        kept = self.cache.get(key, head)
        if kept is not None:
            self.cache.answer(resp, kept)
            return
        with self.services.read() as conn:
            scope = self.scope(req, conn, **params)
            StreamAnswer(self.services, req, resp, conn, self.access(req)).respond(scope)
            if key is not None:
                self.cache.put(key, resp, head, changes_by_time(req, conn, scope))

    def on_put(self, req: falcon.Request, resp: falcon.Response, **params: str) -> None:
        edit = parse_edit(read_json(req))
        with self.reading() as conn:
            scope = self.scope(req, conn, **params)
            rows = selected(req, conn, scope, self.auth(req))
            if not rows and req.get_param_as_list('id'):
                resp.status = falcon.HTTP_204
                return
            resp.media = edit_issues(self.services, req, conn, scope, rows, edit)

    def on_delete(self, req: falcon.Request, resp: falcon.Response, **params: str) -> None:
        if not req.get_param_as_list('id'):
            raise falcon.HTTPBadRequest(description=NO_IDS)
        with self.reading() as conn:
            rows = selected(req, conn, self.scope(req, conn, **params), self.auth(req))
        if rows:
            self.services.execute(DeleteIssues(group_ids=tuple(UUID(r.id) for r in rows),
                                               actor=self.auth(req).actor()))
        resp.status = falcon.HTTP_204


class ProjectIssueListResource(IssueListBase):
    """A project's issues, by slugs or (with `project` absent) by the overview's numeric id in `org`."""

    def scope(self, req: falcon.Request, conn: Connection, org: str, project: str | None = None) -> Scope:
        org_row, project_row = find_project(self.access(req), conn, org, project, self.needed(req))
        return Scope(org_row, [project_row])


class OrganizationIssueListResource(IssueListBase):
    """The organization's issues across the projects the caller may act on."""

    def scope(self, req: falcon.Request, conn: Connection, org: str) -> Scope:
        return organization_scope(self.access(req), conn, req, org, self.needed(req))


# --- one issue ----------------------------------------------------------------------------------------

def activity_list(conn: Connection, group_row: Row) -> list[dict]:
    """Newest first, one entry per (type, user) but every note, then Sentry's
    synthetic `first_seen` entry."""
    seen: set[tuple] = set()
    kept = []
    for row in issues.activity_of(conn, group_row.id):
        if row.type != 'note':
            if (row.type, row.user_id) in seen:
                continue
            seen.add((row.type, row.user_id))
        kept.append(row)
    return entries(conn, kept) + [first_seen_entry(group_row)]


def entries(conn: Connection, rows: list[Row]) -> list[dict]:
    """Activity rows in Sentry's shape, each with its user."""
    people = issues.users_by_public_ids(conn, {row.user_id for row in rows if row.user_id})
    return [activity_entry(row, serialize_user(people[row.user_id]) if row.user_id in people else None)
            for row in rows]


def release_of(conn: Connection, found: Issue, version: str | None) -> dict | None:
    """The Release a version names (as the project sees it), or just its version."""
    if not version:
        return None
    row = release_store.release_by_version(conn, found.org.id, version)
    if row is None:
        return {'version': version}
    return describe(conn, found.org.id, [row], found.project)[0]


def issue_detail(conn: Connection, found: Issue, url_prefix: str, auth: Auth) -> dict:
    row = found.group
    keys = [group_tag_key(k.key, k.unique_values, k.total_values) for k in tags.group_keys(conn, row.id)]
    day, month = graphs(conn, [row.id], HOUR, 24), graphs(conn, [row.id], DAY, 30)
    return group_detail(
        row, found.project, found.org, url_prefix, viewing(conn, auth, [row]), activity=activity_list(conn, row),
        seen=[seen_by(user_row) for user_row in issues.seen_by(conn, row.id)],
        participants=[serialize_user(u) for u in issues.participants(conn, row.id)],
        first_release=release_of(conn, found, row.first_release), last_release=release_of(conn, found, row.last_release),
        tags=sorted(keys, key=lambda k: k['name']), stats={'24h': day[row.id], '30d': month[row.id]})


class IssueResource(IngestedResource):
    """The issue with its history, tags and graphs; PUT edits it as the bulk edit
    does and answers the whole issue; DELETE removes it (202)."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            resp.media = issue_detail(conn, found, self.services.config.url_prefix, self.auth(req))

    def on_put(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        edit = parse_edit(read_json(req))
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            edit_issues(self.services, req, conn, Scope(found.org, [found.project]), [found.group], edit)
        with self.services.read() as conn:
            row = issues.group_by_number(conn, found.group.number)
            if row is None:
                raise not_found()
            resp.media = group(row, found.project, found.org, self.services.config.url_prefix,
                               viewing(conn, self.auth(req), [row]))

    def on_delete(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
        self.services.execute(DeleteIssues(group_ids=(UUID(found.group.id),), actor=self.auth(req).actor()))
        resp.status = falcon.HTTP_202


class IssueActivityResource(IngestedResource):
    """The issue's whole history, newest first, as today's Sentry answers it."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            rows = issues.activity_of(conn, found.group.id, limit=1000)
            resp.media = {'activity': entries(conn, rows) + [first_seen_entry(found.group)]}


class IssueParticipantListResource(IngestedResource):
    """The users subscribed to the issue."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            resp.media = [serialize_user(u) for u in issues.participants(conn, found.group.id)]


class IssueHashListResource(IngestedResource):
    """The hashes that lead to the issue, oldest first, each with its latest event."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            page = page_of(req, resp, self.services.config.url_prefix, conn, issues.hashes_query(found.group.id),
                           group_hashes.c.ordinal, descending=False, tiebreak=group_hashes.c.hash)
            latest = events.events_by_ids(conn, {row.latest_event for row in page.rows})
            resp.media = [group_hash(row, _event_or_none(latest.get(row.latest_event))) for row in page.rows]


def _event_or_none(row: Row | None) -> dict | None:
    return serialize_event(row, events.event_payload(row)) if row is not None else None


class IssueTagListResource(IngestedResource):
    """Every tag key of the issue with its counts and most frequent values."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            group_row = find_issue(self.access(req), conn, issue, self.needed(req)).group
            top = tags.group_top_values(conn, group_row.id, TAG_LIST_TOP_VALUES)
            resp.media = [group_tag_key(k.key, k.unique_values, k.total_values, top.get(k.key, []))
                          for k in tags.group_keys(conn, group_row.id)]


class IssueTagResource(IngestedResource):
    """One tag key of the issue; 404 when the issue never had it."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str, key: str) -> None:
        key = standard_key(key)
        with self.reading() as conn:
            group_row = find_issue(self.access(req), conn, issue, self.needed(req)).group
            found = tags.group_keys(conn, group_row.id, key)
            if not found:
                raise not_found()
            top = tags.group_top_values(conn, group_row.id, TAG_DETAIL_TOP_VALUES, key)
            resp.media = group_tag_key(key, found[0].unique_values, found[0].total_values, top.get(key, []))


class IssueTagValueListResource(IngestedResource):
    """The issue's values of one key: `sort=date` by last seen, `age` by first seen,
    `count` by frequency; otherwise newest first, as Sentry's id order was."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str, key: str) -> None:
        key = standard_key(key)
        order = tags.VALUE_SORTS.get(req.get_param('sort') or 'age', tags.VALUE_SORTS['age'])
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            if tags.project_key(conn, found.project.id, key) is None:
                raise not_found()
            page = page_of(req, resp, self.services.config.url_prefix, conn,
                           tags.group_values_query(found.group.id, key), order,
                           tiebreak=tags.group_tag_values.c.value)
            resp.media = [tag_value(row) for row in page.rows]


def routes(services: Services) -> list[tuple[str, Resource]]:
    table: list[tuple[str, Callable[[Services], Resource]]] = [
        ('{kind}/{{issue}}/', IssueResource),
        ('{kind}/{{issue}}/activity/', IssueActivityResource),
        ('{kind}/{{issue}}/participants/', IssueParticipantListResource),
        ('{kind}/{{issue}}/hashes/', IssueHashListResource),
        ('{kind}/{{issue}}/tags/', IssueTagListResource),
        ('{kind}/{{issue}}/tags/{{key}}/', IssueTagResource),
        ('{kind}/{{issue}}/tags/{{key}}/values/', IssueTagValueListResource),
        ('projects/{{org}}/{{project}}/{kind}/', ProjectIssueListResource),
        ('projects/{{org}}/{kind}/', ProjectIssueListResource),
        ('organizations/{{org}}/{kind}/', OrganizationIssueListResource),
    ]
    found = []
    for template, resource_class in table:
        resource = resource_class(services)
        kinds = ('issues',) if resource_class is OrganizationIssueListResource else ('issues', 'groups')
        found += [('/api/0/' + template.format(kind=kind), resource) for kind in kinds]
    return found
