"""`sentrail audit replay`: the audit trail read from the event store itself, in
order and in constant memory (one page of the log at a time)."""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterator

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from sentrail.domain.audit import Trail
from sentrail.domain.organization import Organization
from sentrail.projections.audit import audited_classes

PAGE = 1000


def replay(app: Application, org_slug: str | None = None, since: datetime | None = None,
           until: datetime | None = None, progress: Callable[[int, int], None] | None = None) -> Iterator[dict]:
    """Yield audit rows (the shape the audit-log table holds) in log order."""
    head = app.recorder.max_notification_id() or 0
    slugs: dict = {}
    if org_slug is not None:
        for _, event in _events(app, head, [get_topic(Organization.Created), get_topic(Organization.Updated)]):
            _track_slug(slugs, event)
    trail = Trail()
    for position, event in _events(app, head, sorted(get_topic(c) for c in audited_classes()), progress):
        entry = trail.entry(event)
        if entry is None or not _within(entry.when, since, until):
            continue
        if org_slug is not None and org_slug not in slugs.get(entry.organization_id, ()):
            continue
        yield trail.row(entry, position)


def _events(app: Application, head: int, topics: list[str],
            progress: Callable[[int, int], None] | None = None) -> Iterator[tuple[int, object]]:
    position = 0
    while position < head:
        notifications = app.recorder.select_notifications(start=position, limit=PAGE, stop=head, topics=topics,
                                                          inclusive_of_start=False)
        if not notifications:
            break
        for notification in notifications:
            yield notification.id, app.mapper.to_domain_event(notification)
        position = notifications[-1].id
        if progress:
            progress(position, head)


def _within(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Compared at millisecond precision, the precision the API shows times in."""
    ms = int(moment.timestamp() * 1000)
    return not ((since and ms < int(since.timestamp() * 1000)) or (until and ms > int(until.timestamp() * 1000)))


def _track_slug(slugs: dict, event: object) -> None:
    """Every slug an organization has had, so --org finds it under old names too."""
    if isinstance(event, Organization.Created):
        slugs.setdefault(event.originator_id, set()).add(event.slug)
    elif isinstance(event, Organization.Updated) and 'slug' in event.changes:
        slugs.setdefault(event.originator_id, set()).add(event.changes['slug'])
