"""The audit log: every domain event that changes an organization, as Sentry's
AuditLogEntry rows. The trail is the event store itself; this is its index."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from sqlalchemy import JSON, BigInteger, Column, Connection, Index, Integer, Select, String, Table, insert, select

from sentrail.domain import apikey, group, member, organization, project, team
from sentrail.domain.audit import PREFIXES, Target, Trail
from sentrail.projections.base import Projection
from sentrail.projections.schema import metadata

audit_log = Table(
    'audit_log', metadata,
    Column('id', BigInteger, primary_key=True, autoincrement=False),
    Column('organization_id', String(36), nullable=False),
    Column('event', String(64), nullable=False),
    Column('actor', JSON, nullable=False),
    Column('ip', String(64)),
    Column('note', String(500), nullable=False),
    Column('target_object', Integer),
    Column('target_user', JSON),
    Column('data', JSON, nullable=False),
    Column('date', BigInteger, nullable=False),
    Index('audit_log_org_date', 'organization_id', 'date', 'id'),
)

audit_targets = Table(
    'audit_targets', metadata,
    Column('aggregate_id', String(36), primary_key=True),
    Column('kind', String(32), nullable=False),
    Column('organization_id', String(36)),
    Column('number', Integer),
    Column('label', String(200)),
)


def audited_classes() -> list[type]:
    """Every event class of the audited aggregates, found on the aggregates
    themselves so new events are covered without a list to keep up."""
    from sentrail.domain import deploy, release, repository  # noqa: PLC0415 - optional families

    aggregates = [organization.Organization, team.Team, project.Project, member.Member, apikey.ApiKey,
                  apikey.ProjectKey, group.Group, release.Release, deploy.Deploy, repository.Repository]
    classes = []
    for aggregate in aggregates:
        for value in vars(aggregate).values():
            if isinstance(value, type) and issubclass(value, Aggregate.Event):
                classes.append(value)
        classes += [getattr(aggregate, name) for name in ('Updated', 'Deleted') if hasattr(aggregate, name)]
    return [c for c in dict.fromkeys(classes)
            if c.__qualname__.split('.')[0] in PREFIXES and not c.__qualname__.endswith('.Event')]


class AuditLogProjection(Projection):
    name = 'audit'
    tables = (audit_log, audit_targets)

    def __init__(self) -> None:
        self._classes = frozenset(audited_classes())

    def topics(self) -> list[str]:  # type: ignore[override]
        return sorted(get_topic(c) for c in self._classes)

    def handles_event(self, event: Any) -> bool:
        return type(event) in self._classes

    def apply_batch(self, conn: Connection, batch: list[tuple[Any, int]]) -> None:
        trail = Trail(self._load_targets(conn, batch))
        known = set(trail.targets)
        rows = []
        for event, position in batch:
            entry = trail.entry(event)
            if entry is not None:
                rows.append(trail.row(entry, position))
        new_targets = [
            {'aggregate_id': str(aggregate_id), 'kind': t.kind,
             'organization_id': str(t.organization_id) if t.organization_id else None,
             'number': t.number, 'label': (t.label or '')[:200]}
            for aggregate_id, t in trail.targets.items() if aggregate_id not in known
        ]
        if new_targets:
            conn.execute(insert(audit_targets), new_targets)
        if rows:
            conn.execute(insert(audit_log), rows)

    def _load_targets(self, conn: Connection, batch: list[tuple[Any, int]]) -> dict[UUID, Target]:
        wanted = set()
        for event, _ in batch:
            wanted.add(str(event.originator_id))
            for reference in ('project_id', 'release_id', 'team_id'):
                if getattr(event, reference, None) is not None:
                    wanted.add(str(getattr(event, reference)))
        found = {}
        ids = sorted(wanted)
        for start in range(0, len(ids), 500):
            rows = conn.execute(select(audit_targets).where(audit_targets.c.aggregate_id.in_(ids[start:start + 500])))
            for row in rows:
                found[UUID(row.aggregate_id)] = Target(
                    kind=row.kind, organization_id=UUID(row.organization_id) if row.organization_id else None,
                    number=row.number, label=row.label)
        return found


def entries_of(organization_id: str, event: str | None) -> Select:
    query = select(audit_log).where(audit_log.c.organization_id == organization_id)
    return query.where(audit_log.c.event == event) if event else query
