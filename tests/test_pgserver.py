"""The test PostgreSQL helper must give isolated, writable databases and clean up after itself."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.support.pgserver import ENV_VAR, PostgresServer


def test_private_server_gives_isolated_databases_and_cleans_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)  # exercise the self-started server, not an external one
    with PostgresServer() as pg:
        assert pg.base_dir is not None and pg.base_dir.is_dir()
        base_dir = pg.base_dir
        assert pg.url.startswith(f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/")
        urls = [pg.create_database("first"), pg.create_database("second")]
        assert urls[0].endswith("/first") and urls[1].endswith("/second")
        for i, url in enumerate(urls):
            engine = create_engine(url)
            try:
                with engine.begin() as conn:
                    conn.execute(text("CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL)"))
                    conn.execute(text("INSERT INTO item VALUES (:id, :name)"), {"id": i, "name": f"row-{i}"})
                with engine.connect() as conn:
                    rows = conn.execute(text("SELECT id, name FROM item")).all()
                    addr = conn.execute(text("SELECT host(inet_server_addr())")).scalar_one()
            finally:
                engine.dispose()
            assert rows == [(i, f"row-{i}")]  # each database only sees its own row
            assert addr == "127.0.0.1"
    assert not base_dir.exists()
