"""Fixtures shared by the suite: a real database per test (SQLite file and
PostgreSQL), the Falcon app over it, and a gunicorn server for end-to-end tests."""
from __future__ import annotations

import base64
import os
import re
import shutil
import signal
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
from sentrail.seed import Installation, ensure_installation
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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'shared_database: the module\'s tests share a module-scoped database '
                                       'per kind, so under pytest-xdist each kind\'s tests run on one worker')


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that share a module-scoped database stay together on one xdist
    worker (`--dist loadgroup`), so it is built once."""
    for item in items:
        if item.get_closest_marker('shared_database') is not None:
            kind = next((v for v in item.callspec.params.values() if v in DATABASES), '')
            item.add_marker(pytest.mark.xdist_group(f'{item.module.__name__}-{kind}'))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if 'db_kind' in metafunc.fixturenames:
        chosen = metafunc.config.getoption('--db')
        kinds = DATABASES if chosen == 'all' else (chosen,)
        metafunc.parametrize('db_kind', kinds)


@pytest.fixture(scope='session')
def postgres():
    with PostgresServer() as server:
        yield server


def test_config(database_url: str) -> Config:
    return Config(database_url=database_url, url_prefix='http://testserver')


class Templates:
    """Databases built once per session and copied for each test, because building
    one (tables, then the `install` commands) costs more than most tests: per
    kind, the schema alone and the schema with the installation, whose
    credentials every copy shares."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.request = request
        self.directory = tmp_path_factory.mktemp('templates')
        self.built: dict[tuple[str, bool], tuple[str, Installation | None]] = {}

    def copy(self, db_kind: str, installed: bool, tmp_path: Path) -> str:
        """A fresh database of that kind: its URL."""
        template, _ = self.template(db_kind, installed)
        if db_kind == 'sqlite':
            target = tmp_path / 'sentrail.db'
            shutil.copyfile(template, target)
            if os.path.exists(template + '-wal'):  # not checkpointed after all: the log holds the rest
                shutil.copyfile(template + '-wal', str(target) + '-wal')
            return f'sqlite:///{target}'
        return self.request.getfixturevalue('postgres').create_database(template=template)

    def installation(self, db_kind: str) -> Installation:
        return self.template(db_kind, True)[1]

    def template(self, db_kind: str, installed: bool) -> tuple[str, Installation | None]:
        key = (db_kind, installed)
        if key not in self.built:
            name = f'sentrail_template_{"installed" if installed else "empty"}'
            if db_kind == 'sqlite':
                template = str(self.directory / f'{name}.db')
                url = f'sqlite:///{template}'
            else:
                url = self.request.getfixturevalue('postgres').create_database(name)
                template = name
            services = Services(test_config(url))
            try:
                found = ensure_installation(services, 'acme', 'web', 'web', email='owner@example.com',
                                            password='secret-pw') if installed else None
            finally:
                services.close()  # a SQLite file is whole again (WAL checkpointed); no connection holds a template
            self.built[key] = (template, found)
        return self.built[key]


@pytest.fixture(scope='session')
def templates(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(request, tmp_path_factory)


@pytest.fixture
def database_url(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest, templates: Templates) -> str:
    return templates.copy(db_kind, 'install' in request.fixturenames, tmp_path)


@pytest.fixture
def config(database_url: str) -> Config:
    return test_config(database_url)


@pytest.fixture
def services(config: Config):
    services = Services(config)
    yield services
    services.close()


@pytest.fixture
def client(services: Services) -> testing.TestClient:
    return testing.TestClient(create_app(services=services))


@pytest.fixture
def install(services: Services, db_kind: str, templates: Templates) -> Installation:
    """An organization 'acme' with team and project 'web', an owner, a key and a
    token: the database was copied from a template that has them."""
    return templates.installation(db_kind)


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
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
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

    def children(self) -> dict[int, str]:
        """The server's child processes (its gunicorn workers and its projection
        follower), each with its command line."""
        pid = self.process.pid
        found = {}
        for child in Path(f'/proc/{pid}/task/{pid}/children').read_text().split():
            try:
                found[int(child)] = Path(f'/proc/{child}/cmdline').read_bytes().replace(b'\0', b' ').decode()
            except OSError:  # gone meanwhile
                continue
        return found

    def worker_pids(self) -> list[int]:
        return sorted(pid for pid, command in self.children().items() if ' projections run ' not in command)

    def follower_pids(self) -> list[int]:
        return sorted(pid for pid, command in self.children().items() if ' projections run ' in command)

    def stop(self) -> None:
        """Kill the server's whole process group: every answer a test waited for was
        committed before it was sent, so a graceful drain would only add seconds
        (and gunicorn's quick shutdown can deadlock a threaded worker)."""
        if self.process is None:
            return
        try:
            if os.getpgid(self.process.pid) == self.process.pid:  # a session of its own: workers too
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
        except ProcessLookupError:  # the whole group is gone already
            pass
        self.process.wait()


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
