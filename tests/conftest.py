"""Fixtures shared by the suite: a real database per test (SQLite file and
PostgreSQL), the Falcon app over it, and a gunicorn server for end-to-end tests."""
from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from falcon import testing

from sentrail.config import Config
from sentrail.http.app import create_app
from sentrail.seed import ensure_installation
from sentrail.services import Services
from tests.support.pgserver import PostgresServer

DATABASES = ('sqlite', 'postgresql')
SENTRY_CLI_2_VERSION = '2.58.6'
# What pip prints when it cannot reach a package index (as opposed to any other failure).
UNREACHABLE = re.compile(r'No matching distribution|Could not find a version|Connection|NewConnectionError|'
                         r'Temporary failure in name resolution|Network is unreachable', re.I)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption('--db', default='all', choices=('all',) + DATABASES,
                     help='which databases to run the database tests against')


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if 'db_kind' in metafunc.fixturenames:
        chosen = metafunc.config.getoption('--db')
        kinds = DATABASES if chosen == 'all' else (chosen,)
        metafunc.parametrize('db_kind', kinds)


@pytest.fixture(scope='session')
def postgres():
    with PostgresServer() as server:
        yield server


@pytest.fixture
def database_url(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if db_kind == 'sqlite':
        return f'sqlite:///{tmp_path / "sentrail.db"}'
    return request.getfixturevalue('postgres').create_database()


@pytest.fixture
def config(database_url: str) -> Config:
    return Config(database_url=database_url, url_prefix='http://testserver')


@pytest.fixture
def services(config: Config):
    services = Services(config)
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> testing.TestClient:
    return testing.TestClient(create_app(services=services))


@pytest.fixture
def install(services: Services):
    """An organization 'acme' with team and project 'web', an owner, a key and a token."""
    return ensure_installation(services, 'acme', 'web', 'web', email='owner@example.com', password='secret-pw')


def basic(key: str) -> dict:
    return {'Authorization': 'Basic ' + base64.b64encode(f'{key}:'.encode()).decode()}


def bearer(token: str) -> dict:
    return {'Authorization': f'Bearer {token}'}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class LiveServer:
    """`sentrail serve` in a child process, bound to 127.0.0.1."""

    def __init__(self, database_url: str, workers: int = 2, extra_env: dict | None = None,
                 serve_args: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.env = {**os.environ, 'SENTRAIL_DATABASE_URL': database_url, 'SENTRAIL_URL_PREFIX': self.url,
                    **(extra_env or {})}
        self.workers = workers
        self.serve_args = serve_args
        self.process: subprocess.Popen | None = None

    def bootstrap(self, org: str = 'acme', team: str = 'web', project: str = 'web') -> dict:
        import json
        out = subprocess.run([sys.executable, '-m', 'sentrail.cli', 'bootstrap', '--org', org, '--team', team,
                              '--project', project, '--json'], env=self.env, check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    def start(self) -> 'LiveServer':
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'sentrail.cli', 'serve', '--port', str(self.port), '--workers', str(self.workers),
             *self.serve_args],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('server exited: ' + self.process.stderr.read().decode()[-2000:])
            try:
                if requests.get(self.url + '/api/0/', timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError('server did not start')

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def live_server(database_url: str):
    server = LiveServer(database_url)
    yield server
    server.stop()


@pytest.fixture(scope='session')
def sentry_cli_2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sentry-cli 2.x (still common in CI), installed once per session into a temporary directory."""
    target = tmp_path_factory.mktemp('sentry-cli-2')
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps',
         '--target', str(target), f'sentry-cli=={SENTRY_CLI_2_VERSION}'],
        capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        if UNREACHABLE.search(result.stderr):
            pytest.skip(f'pip cannot reach a package index to install sentry-cli {SENTRY_CLI_2_VERSION}: '
                        f'{result.stderr.strip().splitlines()[-1]}')
        pytest.fail(f'pip install sentry-cli=={SENTRY_CLI_2_VERSION} failed:\n{result.stderr}')
    return target / 'bin' / 'sentry-cli'


def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                        name: str) -> str:
    """A fresh database for a module-scoped fixture parametrized by DATABASES,
    skipped when --db chose the other one."""
    chosen = request.config.getoption('--db')
    if chosen not in ('all', request.param):
        pytest.skip(f'--db {chosen}')
    if request.param == 'sqlite':
        return f'sqlite:///{tmp_path_factory.mktemp(name) / "sentrail.db"}'
    return request.getfixturevalue('postgres').create_database()
