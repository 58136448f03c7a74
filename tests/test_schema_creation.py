"""Every process of a server creates the tables it finds missing as it starts;
several starting at once on a new database must all start."""
from __future__ import annotations

import threading

from sentrail.config import Config
from sentrail.services import Services

STARTING = 8


def test_processes_starting_together_on_a_new_database_all_start(db_kind, request, tmp_path):
    if db_kind == 'sqlite':
        url = f'sqlite:///{tmp_path}/new.db'
    else:
        url = request.getfixturevalue('postgres').create_database()
    gate = threading.Barrier(STARTING)
    failures: list[BaseException] = []

    def start() -> None:
        gate.wait()
        try:
            Services(Config(database_url=url)).close()
        except Exception as error:  # noqa: BLE001 - asserted below
            failures.append(error)

    threads = [threading.Thread(target=start) for _ in range(STARTING)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    services = Services(Config(database_url=url))
    try:
        assert services.runner.status() and all(status.position == 0 for status in services.runner.status())
    finally:
        services.close()
