"""The real sentry-cli against a live gunicorn server: `info`, `organizations list`
and `projects list`, with 3.x (Bearer token) and 2.x (legacy API key, Basic)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import UUID

import pytest
import requests

from sentrail.commands.organizations import CreateProject
from sentrail.config import Config
from sentrail.domain.actor import SYSTEM
from sentrail.projections import organizations
from sentrail.services import Services
from tests.conftest import LiveServer

SENTRY_CLI_3 = Path(sys.executable).parent / 'sentry-cli'
@pytest.fixture
def server(database_url: str):
    live = LiveServer(database_url)
    yield live
    live.stop()


def cli(binary: Path, home: Path, url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run sentry-cli with a clean environment: no SENTRY_* but the ones given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith('SENTRY_')}
    clean.update({'HOME': str(home), 'SENTRY_URL': url, 'SENTRY_ORG': 'acme', **env})
    result = subprocess.run([str(binary), *args], env=clean, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f'sentry-cli {" ".join(args)} failed:\n{result.stdout}\n{result.stderr}'
    return result


def table_column(output: str, column: int) -> list[str]:
    """One column of the CLI's ASCII table, header excluded."""
    rows = [line.split('|') for line in output.splitlines() if line.startswith('|')]
    return [row[column].strip() for row in rows[1:]]


def add_projects(database_url: str, count: int) -> list[str]:
    """Fill the web team before the server starts; returns the new slugs."""
    services = Services(Config(database_url=database_url))
    try:
        with services.read() as conn:
            org = organizations.org_by_slug(conn, 'acme')
            team = organizations.team_by_slug(conn, org.id, 'web')
        slugs = [f'service-{n:03d}' for n in range(count)]
        for slug in slugs:
            services.execute(CreateProject(team_id=UUID(team.id), name=slug, platform='python', actor=SYSTEM))
        return slugs
    finally:
        services.close()


def test_sentry_cli_3_lists_every_page(server, database_url, tmp_path):
    credentials = server.bootstrap()
    slugs = add_projects(database_url, 101)
    server.start()
    token = {'SENTRY_AUTH_TOKEN': credentials['auth_token']}

    info = cli(SENTRY_CLI_3, tmp_path, server.url, 'info', **token)
    assert credentials['user']['email'] in info.stdout
    assert 'Auth Token' in info.stdout and '- project:write' in info.stdout and '- org:admin' in info.stdout

    orgs = cli(SENTRY_CLI_3, tmp_path, server.url, 'organizations', 'list', **token)
    assert table_column(orgs.stdout, 3) == ['acme']

    # 102 projects: the CLI (which sends no per_page) must follow `next` to the second page.
    first = requests.get(f'{server.url}/api/0/organizations/acme/projects/?cursor=',
                         headers={'Authorization': f'Bearer {credentials["auth_token"]}'}, timeout=30)
    assert len(first.json()) == 100 and 'rel="next"; results="true"' in first.headers['Link']
    listed = cli(SENTRY_CLI_3, tmp_path, server.url, 'projects', 'list', **token)
    assert sorted(table_column(listed.stdout, 2)) == sorted(['web', *slugs])
    assert set(table_column(listed.stdout, 3)) == {'web'}


def test_sentry_cli_2_with_a_legacy_api_key(server, database_url, tmp_path, sentry_cli_2):
    credentials = server.bootstrap()
    add_projects(database_url, 2)
    server.start()
    key = credentials['api_key']

    info = cli(sentry_cli_2, tmp_path, server.url, '--api-key', key, 'info')
    assert 'API Key' in info.stdout and '- project:read' in info.stdout

    orgs = cli(sentry_cli_2, tmp_path, server.url, '--api-key', key, 'organizations', 'list')
    assert 'acme' in orgs.stdout

    listed = cli(sentry_cli_2, tmp_path, server.url, '--api-key', key, 'projects', 'list')
    assert sorted(table_column(listed.stdout, 2)) == ['service-000', 'service-001', 'web']
    assert set(table_column(listed.stdout, 3)) == {'web'}
