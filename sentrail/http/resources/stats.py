"""Event counts as time series (Sentry's StatsMixin): `projects/{org}/{project}/stats/`,
`teams/{org}/{team}/stats/`, `organizations/{org}/stats/` and `issues/{issue}/stats/`.

`since` and `until` are epoch seconds (until defaults to now, since to a day
before); `resolution` is one of the rollups Sentry keeps (10s, 1h, 1d),
otherwise the finest that covers the range. The answer is
[[timestamp, count], ...], oldest first.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import falcon
from sqlalchemy import Connection

from sentrail.http.openapi import Api, Op, Param, ok
from sentrail.http.resource import Resource
from sentrail.http.resources.issues import GROUP_SCOPES, IngestedResource, find_issue
from sentrail.http.resources.organizations import ORG_SCOPES
from sentrail.http.resources.projects import PROJECT_SCOPES, find_project
from sentrail.http.resources.teams import TEAM_SCOPES, find_team
from sentrail.projections import catalog, stats
from sentrail.projections.stats import DAY, HOUR, MINUTE
from sentrail.services import Services

# Sentry's rollups: (seconds, buckets kept).
ROLLUPS = ((10, 360), (HOUR, 24 * 7), (DAY, 90))
UNITS = {'s': 1, 'm': MINUTE, 'h': HOUR, 'd': DAY}
MAX_POINTS = 10000
# Counted stats; the others are accepted and are zero: sentrail rejects and filters nothing.
RECEIVED = 'received'
ZERO_STATS = ('rejected', 'blacklisted', 'generated', 'forwarded')

RANGE = (Param('since', {'type': 'number', 'minimum': 0}, 'Start, epoch seconds (default: a day before until).'),
         Param('until', {'type': 'number', 'minimum': 0}, 'End, epoch seconds (default: now).'),
         Param('resolution', {'type': 'string', 'pattern': '^[0-9]+[smhd]$'}, '`10s`, `1h` or `1d`.'))
STAT = Param('stat', {'type': 'string', 'enum': [RECEIVED, *ZERO_STATS]}, 'Which count (default `received`).')
SERIES = Api(get=Op(returns=ok('StatsSeries'), query=(STAT, *RANGE)))


@dataclass(frozen=True)
class Range:
    buckets: list[int]
    rollup: int


def _epoch(req: falcon.Request, name: str, default: float) -> float:
    text = req.get_param(name)
    if text in (None, ''):
        return default
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if value != value or not 0 <= value < 253402300800:
        raise falcon.HTTPBadRequest(description=f'Invalid {name} parameter.')
    return value


def _resolution(req: falcon.Request, allowed: tuple[int, ...]) -> int | None:
    text = req.get_param('resolution')
    if not text:
        return None
    match = re.fullmatch(r'(\d{1,9})([smhd])', text)
    seconds = int(match.group(1)) * UNITS[match.group(2)] if match else None
    if seconds not in allowed:
        raise falcon.HTTPBadRequest(description='Invalid resolution.')
    return seconds


def stats_range(req: falcon.Request, finest: int = 10) -> Range:
    """The series' buckets from `since`, `until` and `resolution`; 400 for a bad one."""
    until = _epoch(req, 'until', time.time())
    since = _epoch(req, 'since', until - DAY + 1)
    allowed = tuple(seconds for seconds, _ in ROLLUPS if seconds >= finest)
    rollup = _resolution(req, allowed)
    if rollup is None:
        rollup = next((seconds for seconds, kept in ROLLUPS if seconds >= finest and seconds * kept >= until - since),
                      ROLLUPS[-1][0])
    buckets = stats.range_buckets(since, until, rollup)
    if len(buckets) > MAX_POINTS:
        raise falcon.HTTPBadRequest(description='Too many data points: use a coarser resolution or a shorter range.')
    return Range(buckets, rollup)


def stat_kind(req: falcon.Request) -> str:
    stat = req.get_param('stat') or RECEIVED
    if stat != RECEIVED and stat not in ZERO_STATS:
        raise falcon.HTTPBadRequest(description=f'Invalid stat: {stat}')
    return stat


def per_project(conn: Connection, project_ids: list[str], wanted: Range, stat: str) -> dict[str, list]:
    """A series for each project; the stats sentrail does not count are zeros."""
    counted = project_ids if stat == RECEIVED else []
    found = stats.series(conn, 'project', counted, wanted.buckets, wanted.rollup)
    return {project_id: found.get(project_id) or [[ts, 0] for ts in wanted.buckets] for project_id in project_ids}


def summed(conn: Connection, project_ids: list[str], wanted: Range, stat: str) -> list[list[int]]:
    """One series for several projects together."""
    each = per_project(conn, project_ids, wanted, stat).values()
    return [[ts, sum(series[index][1] for series in each)] for index, ts in enumerate(wanted.buckets)]


class ProjectStatsResource(IngestedResource):
    """The project's events over time."""

    scopes = {'GET': PROJECT_SCOPES['GET']}
    api = SERIES

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, project: str) -> None:
        stat, wanted = stat_kind(req), stats_range(req)
        with self.reading() as conn:
            _, row = find_project(self.access(req), conn, org, project, self.needed(req))
            resp.media = summed(conn, [row.id], wanted, stat)


class TeamStatsResource(IngestedResource):
    """The team's projects' events, summed; [] for a team without projects."""

    scopes = {'GET': TEAM_SCOPES['GET']}
    api = SERIES

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str, team: str) -> None:
        stat, wanted = stat_kind(req), stats_range(req)
        with self.reading() as conn:
            _, row = find_team(self.access(req), conn, org, team, self.needed(req))
            project_ids = [project.id for project in catalog.projects_of_teams(conn, [row.id])]
            resp.media = summed(conn, project_ids, wanted, stat) if project_ids else []


class OrganizationStatsResource(IngestedResource):
    """`group=organization` (default): every project's events, summed. `group=project`:
    {project id: series} for the projects the caller may see, narrowed by `id=`."""

    scopes = {'GET': ORG_SCOPES['GET']}
    api = Api(get=Op(returns=ok({'anyOf': [{'$ref': '#/components/schemas/StatsSeries'},
                                           {'$ref': '#/components/schemas/ProjectStatsSeries'}]}),
                     query=(STAT, *RANGE,
                            Param('group', {'type': 'string', 'enum': ['organization', 'project']},
                                  '`organization` (one series, default) or `project` (one per project).'),
                            Param('id', {'type': 'string'}, 'With `group=project`: only these project ids.',
                                  repeated=True))))

    def on_get(self, req: falcon.Request, resp: falcon.Response, org: str) -> None:
        stat, wanted = stat_kind(req), stats_range(req)
        grouping = req.get_param('group') or 'organization'
        if grouping not in ('organization', 'project'):
            raise falcon.HTTPBadRequest(description=f'Invalid group: {grouping}')
        with self.reading() as conn:
            access = self.access(req)
            org_row = access.organization(conn, org, self.needed(req))
            if grouping == 'organization':
                rows = conn.execute(catalog.projects_visible([(org_row.id, None)])).all()
                resp.media = summed(conn, [row.id for row in rows], wanted, stat)
                return
            rows = conn.execute(catalog.projects_visible([(org_row.id, access.team_ids(conn, org_row))])).all()
            chosen = set(req.get_param_as_list('id') or [])
            rows = [row for row in rows if not chosen or str(row.number) in chosen]
            each = per_project(conn, [row.id for row in rows], wanted, stat)
            resp.media = {str(row.number): each[row.id] for row in rows}


class IssueStatsResource(IngestedResource):
    """The issue's events by their own time; issues keep hourly counts, so 1h or 1d."""

    scopes = GROUP_SCOPES
    api = Api(get=Op(returns=ok('StatsSeries'), query=RANGE))

    def on_get(self, req: falcon.Request, resp: falcon.Response, issue: str) -> None:
        wanted = stats_range(req, finest=HOUR)
        with self.reading() as conn:
            group = find_issue(self.access(req), conn, issue, self.needed(req)).group
            resp.media = stats.series(conn, 'group', [group.id], wanted.buckets, wanted.rollup)[group.id]


def routes(services: Services) -> list[tuple[str, Resource]]:
    issue = IssueStatsResource(services)
    return [
        ('/api/0/projects/{org}/{project}/stats/', ProjectStatsResource(services)),
        ('/api/0/teams/{org}/{team}/stats/', TeamStatsResource(services)),
        ('/api/0/organizations/{org}/stats/', OrganizationStatsResource(services)),
        ('/api/0/issues/{issue}/stats/', issue),
        ('/api/0/groups/{issue}/stats/', issue),
    ]
