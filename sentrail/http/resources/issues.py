"""`issues/{issue}/` (alias `groups/`) with its `hashes/` and `tags/…`, and the
project's issue list `projects/{org}/{project}/issues/` (alias `groups/`).

Everything here reads what ingestion wrote. Ingestion answers before the read
models have caught up, so every read first catches them up (`IngestedResource`):
an event accepted before a GET is in its answer.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import falcon
from sqlalchemy import Connection, Select
from sqlalchemy.engine import Row
from sqlalchemy.sql import ColumnElement

from sentrail.http.auth import Access
from sentrail.http.errors import not_found
from sentrail.http.fields import public_number
from sentrail.http.pagination import cursor_param, page_size, set_link
from sentrail.http.resource import Resource
from sentrail.http.resources.projects import find_project
from sentrail.http.serializers.events import event as serialize_event
from sentrail.http.serializers.issues import activity_entry, first_seen_entry, group_detail, group_hash, stream_group
from sentrail.http.serializers.tags import group_tag_key, standard_key, tag_value
from sentrail.http.serializers.users import user as serialize_user
from sentrail.projections import events, issues, organizations, projects, stats, tags
from sentrail.projections.issues import InvalidQuery, group_hashes, groups
from sentrail.projections.keyset import Page, count_hits, paginate
from sentrail.projections.stats import DAY, HOUR
from sentrail.services import Services

# GroupPermission (every /issues/{id}/… path) and ProjectEventPermission (the issue list).
GROUP_SCOPES = {
    'GET': ('event:read', 'event:write', 'event:admin'),
    'POST': ('event:write', 'event:admin'),
    'PUT': ('event:write', 'event:admin'),
    'DELETE': ('event:admin',),
}

# statsPeriod of the issue list -> (rollup in seconds, buckets)
STREAM_PERIODS = {'24h': (HOUR, 24), '14d': (DAY, 14)}
INVALID_STREAM_PERIOD = "Invalid stats_period. Valid choices are '', '24h', and '14d'"
MAX_HITS = 1000
TAG_LIST_TOP_VALUES, TAG_DETAIL_TOP_VALUES = 10, 9


class IngestedResource(Resource):
    """A resource over ingested data: its reads catch the projections up first
    (cheap when they are current), for read-your-writes after ingestion."""

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        if not self.services.config.read_only:
            self.services.runner.catch_up()
        with self.services.read() as conn:
            yield conn


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
    """An issue by its public id; 404 when unknown or deleted, 403 without access."""
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


def activity_list(conn: Connection, group: Row) -> list[dict]:
    """Newest first, one entry per (type, user) but every note, then Sentry's
    synthetic `first_seen` entry."""
    seen: set[tuple] = set()
    kept = []
    for row in issues.activity_of(conn, group.id):
        if row.type != 'note':
            if (row.type, row.user_id) in seen:
                continue
            seen.add((row.type, row.user_id))
        kept.append(row)
    people = issues.users_by_public_ids(conn, {row.user_id for row in kept if row.user_id})
    body = [activity_entry(row, serialize_user(people[row.user_id]) if row.user_id in people else None)
            for row in kept]
    return body + [first_seen_entry(group)]


def issue_detail(conn: Connection, found: Issue, url_prefix: str) -> dict:
    group = found.group
    keys = [group_tag_key(k.key, k.unique_values, k.total_values) for k in tags.group_keys(conn, group.id)]
    day, month = graphs(conn, [group.id], HOUR, 24), graphs(conn, [group.id], DAY, 30)
    return group_detail(group, found.project, found.org, url_prefix, activity=activity_list(conn, group),
                        tags=sorted(keys, key=lambda k: k['name']),
                        stats={'24h': day[group.id], '30d': month[group.id]})


class IssueResource(IngestedResource):
    """The issue with its history, tags and graphs."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            found = find_issue(self.access(req), conn, issue, self.needed(req))
            resp.media = issue_detail(conn, found, self.services.config.url_prefix)


def stream_period(req: falcon.Request) -> str | None:
    """The list's graph period: 24h unless asked otherwise, none for `statsPeriod=`."""
    period = req.get_param('statsPeriod', default='24h')
    if period and period not in STREAM_PERIODS:
        raise falcon.HTTPBadRequest(description=INVALID_STREAM_PERIOD)
    return period or None


def issue_search(req: falcon.Request) -> tuple[issues.IssueQuery, ColumnElement[Any]]:
    """The list's `query` and `sort`; no query at all means unresolved issues."""
    try:
        search = issues.parse_issue_query(req.get_param('query', default=None))
    except InvalidQuery as error:
        raise falcon.HTTPBadRequest(description=str(error)) from None
    sort = req.get_param('sort') or 'date'
    if sort not in issues.SORTS:
        raise falcon.HTTPBadRequest(description=f'Invalid sort: {sort}')
    return search, issues.SORTS[sort]


class ProjectIssueListResource(IngestedResource):
    """A project's issues, most recently seen first (or by `sort`), keyset-paginated
    with `limit`, with X-Hits; each with its graph for `statsPeriod`."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        period = stream_period(req)
        search, key = issue_search(req)
        prefix = self.services.config.url_prefix
        with self.reading() as conn:
            org_row, project_row = find_project(self.access(req), conn, org, project, self.needed(req))
            query = issues.issues_query([project_row.id], search)
            page = page_of(req, resp, prefix, conn, query, key, tiebreak=groups.c.number, size_param='limit')
            hits = count_hits(conn, query, MAX_HITS)
            ids = [row.id for row in page.rows]
            found = {group_id: {period: series}
                     for group_id, series in graphs(conn, ids, *STREAM_PERIODS[period]).items()} if period else {}
        resp.set_header('X-Hits', str(hits))
        resp.set_header('X-Max-Hits', str(MAX_HITS))
        resp.media = [stream_group(row, project_row, org_row, prefix, found.get(row.id)) for row in page.rows]


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
            group = find_issue(self.access(req), conn, issue, self.needed(req)).group
            top = tags.group_top_values(conn, group.id, TAG_LIST_TOP_VALUES)
            resp.media = [group_tag_key(k.key, k.unique_values, k.total_values, top.get(k.key, []))
                          for k in tags.group_keys(conn, group.id)]


class IssueTagResource(IngestedResource):
    """One tag key of the issue; 404 when the issue never had it."""

    scopes = GROUP_SCOPES

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str, key: str) -> None:
        key = standard_key(key)
        with self.reading() as conn:
            group = find_issue(self.access(req), conn, issue, self.needed(req)).group
            found = tags.group_keys(conn, group.id, key)
            if not found:
                raise not_found()
            top = tags.group_top_values(conn, group.id, TAG_DETAIL_TOP_VALUES, key)
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
        ('{kind}/{{issue}}/hashes/', IssueHashListResource),
        ('{kind}/{{issue}}/tags/', IssueTagListResource),
        ('{kind}/{{issue}}/tags/{{key}}/', IssueTagResource),
        ('{kind}/{{issue}}/tags/{{key}}/values/', IssueTagValueListResource),
        ('projects/{{org}}/{{project}}/{kind}/', ProjectIssueListResource),
    ]
    found = []
    for template, resource_class in table:
        resource = resource_class(services)
        found += [('/api/0/' + template.format(kind=kind), resource) for kind in ('issues', 'groups')]
    return found
