"""Recording ingested events and assigning each to its issue.

Events are recorded in batches: one save for many events (a group commit), each
issue and id sequence touched once per batch. A single event is a batch of one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.domain.actor import Actor
from sentrail.domain.group import Group, group_id
from sentrail.domain.grouping import group_hashes, group_summary
from sentrail.domain.ingested import IngestedEvent, ingested_id
from sentrail.domain.sequence import Sequence, sequence_id

MAX_FORWARDS = 20


@dataclass(frozen=True)
class IngestEvent:
    """`data` is the normalized event (sentrail.domain.ingest_normalize)."""

    project_id: UUID
    project_number: int
    data: dict
    actor: Actor


@dataclass(frozen=True)
class IngestEvents:
    """Several events recorded in one atomic save."""

    events: list


@dataclass
class Batch:
    """The aggregates one batch touches, each loaded once and saved once."""

    app: Sentrail
    groups: dict = field(default_factory=dict)
    sequences: dict = field(default_factory=dict)
    received: list = field(default_factory=list)
    event_ids: set = field(default_factory=set)

    def find(self, aggregate_id: UUID) -> object:
        if aggregate_id in self.groups:
            return self.groups[aggregate_id]
        found = self.app.find(aggregate_id)
        if isinstance(found, Group):
            self.groups[aggregate_id] = found
        return found

    def next_number(self, kind: str) -> int:
        sequence = self.sequences.get(kind)
        if sequence is None:
            found = self.app.find(sequence_id(kind))
            sequence = self.sequences[kind] = found if isinstance(found, Sequence) else Sequence(kind)
        return sequence.allocate()

    def find_group(self, project_id: UUID, hashes: list[str]) -> Group | None:
        """The issue the first known hash points at, following merges and deletions.
        A deleted issue without a successor is returned as is; the caller replaces it."""
        for hash in hashes:
            group = self.find(group_id(project_id, hash))
            if isinstance(group, Group):
                for _ in range(MAX_FORWARDS):
                    if group.forward_to is None:
                        break
                    group = self.find(group.forward_to)
                return group
        return None

    def new_group(self, project_id: UUID, hash: str, generation: int, meta: dict) -> Group:
        group = Group(number=self.next_number('group'), short_id=self.next_number(f'group-short:{project_id}'),
                      project_id=project_id, hash=hash, generation=generation, meta=meta)
        self.groups[group.id] = group
        return group

    def add(self, cmd: IngestEvent) -> Group | None:
        """Record one event; None when it is already in this batch."""
        event_id = cmd.data['event_id']
        if (cmd.project_id, event_id) in self.event_ids:
            return None
        self.event_ids.add((cmd.project_id, event_id))
        meta = cmd.actor.meta()
        hashes = group_hashes(cmd.data)
        found = self.find_group(cmd.project_id, hashes)
        if found is None:
            group = self.new_group(cmd.project_id, hashes[0], 0, meta)
        elif found.deleted:
            group = self.new_group(cmd.project_id, found.hash, found.generation + 1, meta)
            found.forward(group.id, meta)
        else:
            group = found
        group.record_event(event_id, meta)
        self.received.append(IngestedEvent(
            project_id=cmd.project_id, project_number=cmd.project_number, group_id=group.id,
            group_number=group.number, hashes=hashes, summary=group_summary(cmd.data), data=cmd.data, meta=meta))
        return group

    def save(self) -> Outcome:
        return save(self.app, *self.sequences.values(), *self.groups.values(), *self.received)


def record(app: Sentrail, events: list[IngestEvent]) -> tuple[Outcome, list[Group | None]]:
    batch = Batch(app)
    groups = [batch.add(cmd) for cmd in events]
    return batch.save(), groups


@handles(IngestEvents)
def ingest_events(app: Sentrail, cmd: IngestEvents) -> Outcome:
    try:
        outcome, _ = record(app, cmd.events)
    except IntegrityError:
        # Some event_id was stored before: store the rest once, answer all as
        # accepted. Any other conflict (a racing creator of an issue) raises
        # again below and is retried by the bus.
        fresh = [e for e in cmd.events if app.find(ingested_id(e.project_id, e.data['event_id'])) is None]
        if len(fresh) == len(cmd.events):
            raise
        outcome = record(app, fresh)[0] if fresh else Outcome()
    return Outcome(position=outcome.position, data={'count': len(cmd.events)})


@handles(IngestEvent)
def ingest_event(app: Sentrail, cmd: IngestEvent) -> Outcome:
    event_id = cmd.data['event_id']
    try:
        outcome, (group,) = record(app, [cmd])
    except IntegrityError:
        if app.find(ingested_id(cmd.project_id, event_id)) is not None:
            return Outcome(id=event_id, data={'duplicate': True})
        raise
    return Outcome(id=event_id, position=outcome.position, data={'group_id': group.id})
