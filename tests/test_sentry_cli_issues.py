"""The real sentry-cli (3.x) against a live server on each database: `issues list`
across pages (with and without `--query`), `issues resolve/mute/unresolve` by
`--id`, `--status` and `--all`, and `events list`; each checked through the API."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
import requests

from sentrail.commands.ingest import IngestEvent, IngestEvents
from sentrail.config import Config
from sentrail.domain.actor import SYSTEM
from sentrail.domain.ingest_normalize import normalize_event
from sentrail.projections import organizations, projects
from sentrail.services import Services
from tests.conftest import DATABASES, LiveServer, module_database_url
from tests.test_issue_read import error

pytestmark = pytest.mark.shared_database

SENTRY_CLI_3 = Path(sys.executable).parent / 'sentry-cli'
ERRORS, WARNINGS = 120, 130


def fill(database_url: str) -> list[str]:
    """250 issues (130 warnings) with one event each, in one save; their event ids."""
    services = Services(Config(database_url=database_url))
    try:
        with services.read() as conn:
            org = organizations.org_by_slug(conn, 'acme')
            project = projects.project_by_slug(conn, org.id, 'web')
        now = time.time()
        commands = []
        for n in range(ERRORS + WARNINGS):
            raw = error(f'Cli{n}', timestamp=now - 1000 + n, level='warning' if n >= ERRORS else 'error',
                        release='1.0')
            data = normalize_event(raw, received_at=now, project_id=project.number)
            commands.append(IngestEvent(project_id=UUID(project.id), project_number=project.number, data=data,
                                        actor=SYSTEM))
        services.execute(IngestEvents(events=commands))
        return [c.data['event_id'] for c in commands]
    finally:
        services.close()


@pytest.fixture(scope='module', params=DATABASES)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """One server per database for the module; its tests run in order on one data set."""
    url = module_database_url(request, tmp_path_factory, 'cli-issues')
    server = LiveServer(url)
    server.credentials = server.bootstrap()
    server.event_ids = fill(url)
    server.start()
    yield server
    server.stop()


def cli(live: LiveServer, home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith('SENTRY_')}
    env.update({'HOME': str(home), 'SENTRY_URL': live.url, 'SENTRY_AUTH_TOKEN': live.credentials['auth_token'],
                'SENTRY_ORG': 'acme', 'SENTRY_PROJECT': 'web'})
    result = subprocess.run([str(SENTRY_CLI_3), *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f'sentry-cli {" ".join(args)} failed:\n{result.stdout}\n{result.stderr}'
    return result.stdout


def column(output: str, index: int) -> list[str]:
    rows = [line.split('|') for line in output.splitlines() if line.startswith('|')]
    return [row[index].strip() for row in rows[1:]]


def statuses(live: LiveServer) -> dict[str, str]:
    """Every issue's status (and `+next` when resolved in the next release), walking the list's pages."""
    found: dict[str, str] = {}
    cursor = ''
    for _ in range(10):
        response = requests.get(f'{live.url}/api/0/projects/acme/web/issues/', timeout=30,
                                params={'query': '', 'limit': '100', 'cursor': cursor, 'statsPeriod': ''},
                                headers={'Authorization': f'Bearer {live.credentials["auth_token"]}'})
        for issue in response.json():
            found[issue['id']] = issue['status'] + ('+next' if issue['statusDetails'].get('inNextRelease') else '')
        match = re.search(r'rel="next"; results="(true|false)"; cursor="([^"]+)"', response.headers['Link'])
        if match.group(1) == 'false':
            return found
        cursor = match.group(2)
    raise AssertionError('the issue list does not end')


def counts(live: LiveServer) -> dict[str, int]:
    found: dict[str, int] = {}
    for status in statuses(live).values():
        found[status] = found.get(status, 0) + 1
    return found


def test_issues_and_events_list_every_page(live, tmp_path):
    listed = cli(live, tmp_path, 'issues', 'list')
    ids = column(listed, 1)
    assert len(ids) == ERRORS + WARNINGS == len(set(ids))  # three pages of the default 100
    assert set(column(listed, 5)) == {'unresolved'} and column(listed, 2)[0].startswith('WEB-')
    warnings = cli(live, tmp_path, 'issues', 'list', '--query', 'is:unresolved level:warning')
    assert len(column(warnings, 1)) == WARNINGS and set(column(warnings, 6)) == {'warning'}
    assert len(column(cli(live, tmp_path, 'issues', 'list', '--pages', '2'), 1)) == 200
    assert column(cli(live, tmp_path, 'issues', 'list', '--query', 'Cli7:'), 3) == ['Cli7: bad input']
    events = cli(live, tmp_path, 'events', 'list')
    assert {e.replace('-', '') for e in column(events, 1)} == set(live.event_ids)


def test_resolve_mute_and_unresolve(live, tmp_path):
    every = sorted(statuses(live), key=int)
    a, b, c, d = every[:4]
    cli(live, tmp_path, 'issues', 'resolve', '--id', a, '--id', b)
    cli(live, tmp_path, 'issues', 'mute', '--id', c)
    cli(live, tmp_path, 'issues', 'resolve', '-n', '--id', d)
    now = statuses(live)
    assert (now[a], now[b], now[c], now[d]) == ('resolved', 'resolved', 'ignored', 'resolved+next')
    assert counts(live) == {'unresolved': 246, 'resolved': 2, 'ignored': 1, 'resolved+next': 1}

    cli(live, tmp_path, 'issues', 'unresolve', '--status', 'muted')
    assert statuses(live)[c] == 'unresolved' and counts(live)['resolved'] == 2
    cli(live, tmp_path, 'issues', 'unresolve', '--status', 'resolved')
    assert counts(live) == {'unresolved': 250}
    cli(live, tmp_path, 'issues', 'mute', '--status', 'unresolved')
    assert counts(live) == {'ignored': 250}
    cli(live, tmp_path, 'issues', 'unresolve', '--id', a)
    cli(live, tmp_path, 'issues', 'resolve', '--all')  # the unresolved ones: just `a`
    assert counts(live) == {'ignored': 249, 'resolved': 1} and statuses(live)[a] == 'resolved'
    cli(live, tmp_path, 'issues', 'unresolve', '--status', 'muted')
    cli(live, tmp_path, 'issues', 'resolve', '--all')
    assert counts(live) == {'resolved': 250}
    # As in Sentry, a selection without filters is the unresolved issues: none are left to unresolve.
    cli(live, tmp_path, 'issues', 'unresolve', '--all')
    assert counts(live) == {'resolved': 250}
    cli(live, tmp_path, 'issues', 'unresolve', '--status', 'resolved')
    assert counts(live) == {'unresolved': 250}
