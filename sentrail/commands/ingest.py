"""Recording an ingested event and assigning it to its issue."""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.domain.actor import Actor
from sentrail.domain.group import Group, group_id
from sentrail.domain.grouping import group_hashes, group_summary
from sentrail.domain.ingested import IngestedEvent, ingested_id

MAX_FORWARDS = 20


@dataclass(frozen=True)
class IngestEvent:
    """`data` is the normalized event (sentrail.domain.ingest_normalize)."""

    project_id: UUID
    project_number: int
    data: dict
    actor: Actor


def find_group(app: Sentrail, project_id: UUID, hashes: list[str]) -> Group | None:
    """The issue the first known hash points at, following merges and deletions.
    A deleted issue without a successor is returned as is; the caller replaces it."""
    for hash in hashes:
        group = app.find(group_id(project_id, hash))
        if isinstance(group, Group):
            for _ in range(MAX_FORWARDS):
                if group.forward_to is None:
                    break
                group = app.load(Group, group.forward_to, allow_deleted=True)
            return group
    return None


def new_group(app: Sentrail, project_id: UUID, hash: str, generation: int, meta: dict) -> list:
    """A new issue and the sequences that numbered it, ready to save."""
    sequence, number = app.next_number('group')
    short_sequence, short_id = app.next_number(f'group-short:{project_id}')
    group = Group(number=number, short_id=short_id, project_id=project_id, hash=hash, generation=generation,
                  meta=meta)
    return [group, sequence, short_sequence]


@handles(IngestEvent)
def ingest_event(app: Sentrail, cmd: IngestEvent) -> Outcome:
    event_id = cmd.data['event_id']
    meta = cmd.actor.meta()
    hashes = group_hashes(cmd.data)
    found = find_group(app, cmd.project_id, hashes)
    created: list = []
    if found is None:
        group, *created = new_group(app, cmd.project_id, hashes[0], 0, meta)
    elif found.deleted:
        group, *created = new_group(app, cmd.project_id, found.hash, found.generation + 1, meta)
        found.forward(group.id, meta)
        created.append(found)
    else:
        group = found
    group.record_event(event_id, meta)
    received = IngestedEvent(project_id=cmd.project_id, project_number=cmd.project_number, group_id=group.id,
                             group_number=group.number, hashes=hashes, summary=group_summary(cmd.data),
                             data=cmd.data, meta=meta)
    try:
        return save(app, *created, group, received, id=event_id, group_id=group.id)
    except IntegrityError:
        # The same event_id again: stored once, answered as accepted. Anything
        # else (a racing creator of the same issue) is retried by the bus.
        if app.find(ingested_id(cmd.project_id, event_id)) is not None:
            return Outcome(id=event_id, data={'duplicate': True})
        raise
