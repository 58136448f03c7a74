"""Events recorded in batches: one save for many events, each event stored once,
and one issue per fingerprint even when writers race to create it."""
from __future__ import annotations

import threading
import time
from uuid import UUID

from sqlalchemy import func, select

from sentrail.commands.ingest import IngestEvent, IngestEvents
from sentrail.domain.actor import SYSTEM
from sentrail.domain.ingest_normalize import normalize_event
from sentrail.projections.events import events
from sentrail.projections.issues import groups
from sentrail.services import Services
from tests.test_issue_read import project_row


def command(project, raw: dict) -> IngestEvent:
    data = normalize_event(raw, received_at=time.time(), project_id=project.number)
    return IngestEvent(project_id=UUID(project.id), project_number=project.number, data=data, actor=SYSTEM)


def counts(services) -> tuple[int, int, int]:
    services.runner.catch_up()
    with services.read() as conn:
        stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
        issues = conn.execute(select(func.count()).select_from(groups)).scalar_one()
        seen = conn.execute(select(func.sum(groups.c.times_seen))).scalar_one()
    return stored, issues, seen


def test_a_batch_is_one_save_with_each_issue_once(services, install):
    project = project_row(services)
    batch = [command(project, {'message': f'disk {n % 3} full', 'event_id': f'{n:032x}'}) for n in range(30)]
    before = services.runner.head()
    outcome = services.bus.handle(IngestEvents(batch + batch[:5]))
    assert outcome.data == {'count': 35}
    assert counts(services) == (30, 3, 30)
    # 30 events, 3 issues, two numbers for each issue from two new sequences: one atomic write.
    assert services.runner.head() - before == 30 + 3 + 3 * 2 + 2


def test_events_already_stored_are_skipped_and_the_rest_recorded(services, install):
    project = project_row(services)
    first = [command(project, {'message': 'timeout', 'event_id': f'{n:032x}'}) for n in range(5)]
    services.bus.handle(IngestEvents(first))
    again = first + [command(project, {'message': 'timeout', 'event_id': f'{n:032x}'}) for n in range(5, 8)]
    services.bus.handle(IngestEvents(again))
    assert counts(services) == (8, 1, 8)


def test_racing_writers_create_one_issue_per_fingerprint(services, config, install):
    project = project_row(services)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        other = Services(config)
        try:
            for n in range(10):
                raw = {'message': f'race {n}', 'event_id': f'{worker:04x}{n:028x}'}
                other.execute(IngestEvents([command(project, raw)]))
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)
        finally:
            other.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert counts(services) == (40, 10, 40)
