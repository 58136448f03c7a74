"""Throwaway PostgreSQL server for tests.

Starts a private cluster bound to 127.0.0.1 on a free port (or reuses the
server named by ``SENTRAIL_TEST_POSTGRES_URL``) so tests never depend on, or
disturb, a system-wide PostgreSQL installation.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

ENV_VAR = "SENTRAIL_TEST_POSTGRES_URL"
DRIVER = "postgresql+psycopg"
UNPRIVILEGED_USER = "postgres"

# Durability is worthless for throwaway test data; these make the server fast.
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


def find_bin_dir() -> Path:
    """Locate initdb/pg_ctl: PATH first, then Debian's versioned directories."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0, reverse=True)
    candidates += [Path(p) for p in versioned]
    for bin_dir in candidates:
        if (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            return bin_dir
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin")


def _free_port() -> int:
    """Ask the kernel for an unused loopback port (racy, hence the retry in start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as_kwargs() -> dict[str, Any]:
    """PostgreSQL refuses to run as root, so drop to an unprivileged user when root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    if os.geteuid() != 0:
        return {"env": env}
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root, but there is no {UNPRIVILEGED_USER!r} user to run PostgreSQL as; "
            f"create one or set {ENV_VAR} to an existing server"
        ) from None
    env.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
    return {"env": env, "user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _shutdown(pg_ctl: Path, base_dir: Path, run_kwargs: dict[str, Any]) -> None:
    """Kill the cluster and delete its files; module-level so weakref.finalize can call it."""
    data_dir = base_dir / "data"
    if (data_dir / "postmaster.pid").exists():
        subprocess.run(
            [str(pg_ctl), "stop", "-D", str(data_dir), "-m", "immediate", "-w"],
            cwd=base_dir, capture_output=True, check=False, **run_kwargs,
        )
    shutil.rmtree(base_dir, ignore_errors=True)


class PostgresServer:
    """A PostgreSQL server for one test session, usable as a context manager.

    ``url`` is a SQLAlchemy URL of a fresh database; ``create_database`` makes
    more, so each test can have an empty one. With ``SENTRAIL_TEST_POSTGRES_URL``
    (or ``external_url``) set, that server is used and only the databases
    created here are dropped on ``stop``; if the URL names a database,
    ``url`` is that database and it is left alone.
    """

    def __init__(self, external_url: str | None = None, *, startup_timeout: float = 60.0) -> None:
        self.external_url = external_url or os.environ.get(ENV_VAR) or None
        self.startup_timeout = startup_timeout
        self.base_dir: Path | None = None
        self.port: int | None = None
        self.url: str = ""
        self._server_url: URL | None = None
        self._admin_db = "postgres"
        self._created: list[str] = []
        self._finalizer: weakref.finalize | None = None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> PostgresServer:
        """Start (or attach to) the server and create the default database."""
        if self._server_url is not None:
            return self
        try:
            if self.external_url:
                self._attach(self.external_url)
            else:
                self._launch()
            if self.url == "":
                self.url = self.create_database()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the private server and remove its directory (or drop our databases). Idempotent."""
        if self.external_url and self._server_url is not None:
            for name in reversed(self._created):
                with self._admin_connect() as conn:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        self._created.clear()
        self._server_url = None
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- databases -------------------------------------------------------

    def create_database(self, name: str | None = None, template: str = "template0") -> str:
        """Create a database (unique name by default) as a copy of ``template`` (by
        default an empty one) and return its SQLAlchemy URL. A template must have
        no open connections."""
        if self._server_url is None:
            raise RuntimeError("server not started")
        name = name or f"sentrail_test_{uuid.uuid4().hex[:12]}"
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} ENCODING 'UTF8'").format(
            sql.Identifier(name), sql.Identifier(template))
        deadline = time.monotonic() + 10
        while True:
            try:
                with self._admin_connect() as conn:
                    conn.execute(statement)
                break
            except psycopg.errors.ObjectInUse:
                # A server process of a connection just closed to the template may
                # still be finishing.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._created.append(name)
        return self._server_url.set(database=name).render_as_string(hide_password=False)

    # -- internals -------------------------------------------------------

    def _attach(self, raw_url: str) -> None:
        """Reuse an external server; a database in its URL becomes ``url`` and the admin database."""
        parsed = make_url(raw_url).set(drivername=DRIVER)
        if parsed.database:
            self._admin_db = parsed.database
            self.url = parsed.render_as_string(hide_password=False)
        self._server_url = parsed.set(database=None)
        self.port = parsed.port
        self._wait_ready(deadline=time.monotonic() + self.startup_timeout)

    def _launch(self) -> None:
        """initdb + pg_ctl start in a temp dir owned by whoever will run the server."""
        bin_dir = find_bin_dir()
        run_kwargs = _run_as_kwargs()
        base = Path(tempfile.mkdtemp(prefix="sentrail-pg-"))
        self.base_dir = base
        self._finalizer = weakref.finalize(self, _shutdown, bin_dir / "pg_ctl", base, run_kwargs)
        if "user" in run_kwargs:
            os.chown(base, run_kwargs["user"], run_kwargs["group"])
        data_dir, sock_dir, log = base / "data", base / "sock", base / "postgres.log"

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(list(args), cwd=base, capture_output=True, text=True, check=False, **run_kwargs)

        init = run(str(bin_dir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres",
                   "--encoding=UTF8", "--locale=C", "--no-sync")
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        sock_dir.mkdir(mode=0o700)
        if "user" in run_kwargs:  # the server user must be able to create its socket here
            os.chown(sock_dir, run_kwargs["user"], run_kwargs["group"])
        settings = {**_SETTINGS, "unix_socket_directories": f"'{sock_dir}'"}
        with open(data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# sentrail test settings\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

        deadline = time.monotonic() + self.startup_timeout
        for _attempt in range(3):  # the free port may be taken between probing and binding
            port = _free_port()
            started = run(str(bin_dir / "pg_ctl"), "start", "-D", str(data_dir), "-l", str(log), "-w",
                          "-t", str(int(self.startup_timeout)), "-o", f"-p {port}")
            if started.returncode == 0:
                break
        else:
            log_text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{started.stdout}\n{started.stderr}\n{log_text}")
        self.port = port
        self._server_url = URL.create(DRIVER, username="postgres", host="127.0.0.1", port=port)
        self._wait_ready(deadline)

    def _admin_connect(self) -> psycopg.Connection[Any]:
        """Autocommit connection to the maintenance database (CREATE/DROP DATABASE need it)."""
        assert self._server_url is not None
        conninfo = self._server_url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(conninfo, dbname=self._admin_db, autocommit=True, connect_timeout=10)

    def _wait_ready(self, deadline: float) -> None:
        """pg_ctl -w checks the socket; this also proves TCP logins work before tests run."""
        while True:
            try:
                with self._admin_connect() as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
