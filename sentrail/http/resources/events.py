"""Ingested events: an issue's (`issues/{issue}/events/`, `…/latest/`, `…/oldest/`),
one by database id (`events/{event}/`), a project's (`projects/{org}/{project}/events/`
and by client id `…/events/{event_id}/`), and the project's tags
(`projects/{org}/{project}/tags/`, `…/tags/{key}/values/`)."""
from __future__ import annotations

import re

import falcon
from sqlalchemy import Connection
from sqlalchemy.engine import Row

from sentrail.http.errors import not_found
from sentrail.http.openapi import Api, Op, Param, ok
from sentrail.http.resource import Resource
from sentrail.http.resources.issues import GROUP_SCOPES, IngestedResource, authorize_project, find_issue, page_of
from sentrail.http.resources.projects import PROJECT_SCOPES, find_project
from sentrail.http.serializers.events import event, event_detail
from sentrail.http.serializers.tags import standard_key, tag_key, tag_value
from sentrail.projections import events, tags
from sentrail.projections.events import events as event_table
from sentrail.services import Services

EVENT_NOT_FOUND = 'Event not found'
NO_EVENTS = 'No events found for group'
READ_PROJECT = {'GET': PROJECT_SCOPES['GET']}
_CLIENT_ID = re.compile(r'^[0-9a-fA-F]{32}$')
MESSAGE_QUERY = (Param('query', {'type': 'string'}, 'Only events whose message contains this text.'),)
EVENT_LIST = Api(get=Op(returns=ok(['Event']), paged=True, query=MESSAGE_QUERY))


def client_event_id(text: str) -> str | None:
    """A client's event id, 32 hex digits, hyphenated (a UUID) or not."""
    compact = text.replace('-', '')
    return compact.lower() if _CLIENT_ID.match(compact) else None


def _is_position(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 19


def detail(conn: Connection, row: Row, *, by_client_id: bool = False) -> dict:
    previous, following = events.neighbours(conn, row)
    return event_detail(row, events.event_payload(row), previous, following, by_client_id=by_client_id)


def listed(row: Row) -> dict:
    return event(row, events.event_payload(row))


class IssueEventListResource(IngestedResource):
    """The issue's events, newest first; `query` keeps those whose message contains it."""

    scopes = GROUP_SCOPES
    api = EVENT_LIST

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            group = find_issue(self.access(req), conn, issue, self.needed(req)).group
            query = events.group_events_query(group.id, req.get_param('query'))
            page = page_of(req, resp, self.services.config.url_prefix, conn, query, event_table.c.timestamp,
                           tiebreak=event_table.c.id)
            resp.media = [listed(row) for row in page.rows]


class IssueEventEdgeResource(IngestedResource):
    """The issue's latest or oldest event, answered as `events/{id}/` answers."""

    scopes = GROUP_SCOPES
    api = Api(get=Op(returns=ok('EventDetail'), summary="Read the issue's latest (or oldest) event"))

    def __init__(self, services: Services, newest: bool) -> None:
        super().__init__(services)
        self.newest = newest

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        with self.reading() as conn:
            group = find_issue(self.access(req), conn, issue, self.needed(req)).group
            row = events.edge_event(conn, group.id, self.newest)
            if row is None:
                raise not_found(NO_EVENTS)
            resp.media = detail(conn, row)


class EventResource(IngestedResource):
    """An event by its database id, for whoever may read its issue."""

    scopes = GROUP_SCOPES
    api = Api(get=Op(returns=ok('EventDetail')), path={'event_id': "The event's numeric (database) id."})

    def on_get(self, req: falcon.Request, resp: falcon.Response, event_id: str) -> None:
        with self.reading() as conn:
            row = events.event_by_id(conn, int(event_id)) if _is_position(event_id) else None
            if row is None:
                raise not_found(EVENT_NOT_FOUND)
            authorize_project(self.access(req), conn, row.project_id, self.needed(req))
            resp.media = detail(conn, row)


class ProjectEventListResource(IngestedResource):
    """The project's events, newest first; `query` keeps those whose message contains it."""

    scopes = READ_PROJECT
    api = EVENT_LIST

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        with self.reading() as conn:
            _, project_row = find_project(self.access(req), conn, org, project, self.needed(req))
            query = events.project_events_query(project_row.id, req.get_param('query'))
            page = page_of(req, resp, self.services.config.url_prefix, conn, query, event_table.c.timestamp,
                           tiebreak=event_table.c.id)
            resp.media = [listed(row) for row in page.rows]


class ProjectEventResource(IngestedResource):
    """An event by the id its client gave it; its neighbours by client ids too."""

    scopes = READ_PROJECT
    api = Api(get=Op(returns=ok('EventDetail')), path={'event_id': 'The id its client gave the event (32 hex).'})

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str, event_id: str) -> None:
        with self.reading() as conn:
            _, project_row = find_project(self.access(req), conn, org, project, self.needed(req))
            wanted = client_event_id(event_id)
            row = events.event_by_client_id(conn, project_row.id, wanted) if wanted else None
            if row is None:
                raise not_found(EVENT_NOT_FOUND)
            resp.media = detail(conn, row, by_client_id=True)


class ProjectTagListResource(IngestedResource):
    """The project's tag keys with their number of values, by key (not paginated)."""

    scopes = READ_PROJECT
    api = Api(get=Op(returns=ok(['TagKey'])))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        with self.reading() as conn:
            _, project_row = find_project(self.access(req), conn, org, project, self.needed(req))
            resp.media = [tag_key(row.key, row.values_seen) for row in tags.project_keys(conn, project_row.id)]


class ProjectTagValueListResource(IngestedResource):
    """The values of one of the project's keys, most recently seen first; `query`
    keeps those containing it. 404 for a key the project never saw."""

    scopes = READ_PROJECT
    api = Api(get=Op(returns=ok(['TagValue']), paged=True,
                     query=(Param('query', {'type': 'string'}, 'Only values containing this text.'),)),
              path={'key': 'The tag key.'})

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str, key: str) -> None:
        key = standard_key(key)
        with self.reading() as conn:
            _, project_row = find_project(self.access(req), conn, org, project, self.needed(req))
            if tags.project_key(conn, project_row.id, key) is None:
                raise not_found()
            query = tags.project_values_query(project_row.id, key, req.get_param('query'))
            page = page_of(req, resp, self.services.config.url_prefix, conn, query,
                           tags.project_tag_values.c.last_seen, tiebreak=tags.project_tag_values.c.value)
            resp.media = [tag_value(row) for row in page.rows]


def routes(services: Services) -> list[tuple[str, Resource]]:
    found: list[tuple[str, Resource]] = []
    for kind in ('issues', 'groups'):
        found += [
            (f'/api/0/{kind}/{{issue}}/events/', IssueEventListResource(services)),
            (f'/api/0/{kind}/{{issue}}/events/latest/', IssueEventEdgeResource(services, newest=True)),
            (f'/api/0/{kind}/{{issue}}/events/oldest/', IssueEventEdgeResource(services, newest=False)),
        ]
    return found + [
        ('/api/0/events/{event_id}/', EventResource(services)),
        ('/api/0/projects/{org}/{project}/events/', ProjectEventListResource(services)),
        ('/api/0/projects/{org}/{project}/events/{event_id}/', ProjectEventResource(services)),
        ('/api/0/projects/{org}/{project}/tags/', ProjectTagListResource(services)),
        ('/api/0/projects/{org}/{project}/tags/{key}/values/', ProjectTagValueListResource(services)),
    ]
