"""The read models as they stood at a past moment, rebuilt into another database
and served read-only with the usual clients."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, bearer


def second_database(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if db_kind == 'sqlite':
        return f'sqlite:///{tmp_path / "last-tuesday.db"}'
    return request.getfixturevalue('postgres').create_database()


def test_rebuild_until_a_moment_and_serve_it_read_only(client, config, install, db_kind, tmp_path, request):
    token = bearer(install.auth_token)
    assert client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Alpha'},
                                headers=token).status_code == 201
    time.sleep(0.05)
    moment = datetime.now(timezone.utc).isoformat()
    time.sleep(0.05)
    assert client.simulate_post('/api/0/organizations/acme/teams/', json={'name': 'Beta'},
                                headers=token).status_code == 201
    assert client.simulate_put('/api/0/organizations/acme/', json={'slug': 'acme-now'},
                               headers=token).status_code == 200

    snapshot_url = second_database(db_kind, tmp_path, request)
    rebuilt = subprocess.run([sys.executable, '-m', 'sentrail.cli', 'projections', 'rebuild', '--until', moment,
                              '--database', snapshot_url], env={'SENTRAIL_DATABASE_URL': config.database_url,
                                                                 'PATH': '/usr/bin:/bin'},
                             capture_output=True, text=True)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert 'rebuilt' in rebuilt.stdout

    server = LiveServer(snapshot_url, workers=1, serve_args=('--read-only', '--database', snapshot_url))
    try:
        server.start()
        teams = requests.get(f'{server.url}/api/0/organizations/acme/teams/', headers=token, timeout=10)
        assert teams.status_code == 200
        assert sorted(t['slug'] for t in teams.json()) == ['alpha', 'web']
        assert requests.get(f'{server.url}/api/0/organizations/acme-now/', headers=token,
                            timeout=10).status_code == 404
        refused = requests.post(f'{server.url}/api/0/organizations/acme/teams/', json={'name': 'Gamma'},
                                headers=token, timeout=10)
        assert refused.status_code == 405
        assert 'read-only' in refused.json()['detail']
    finally:
        server.stop()
    # The live store is untouched: it still has both teams and the new slug.
    now = client.simulate_get('/api/0/organizations/acme-now/teams/', headers=token).json
    assert sorted(t['slug'] for t in now) == ['alpha', 'beta', 'web']
