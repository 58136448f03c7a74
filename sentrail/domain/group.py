"""An issue: events grouped by fingerprint. Its state changes by commands
(resolve, ignore, assign, merge, delete); what grows with traffic (counts,
tags, events) lives in projections, so the stream stays short."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.identity import natural_id

STATUSES = ('unresolved', 'resolved', 'ignored')


class Group(Entity):
    class Created(Aggregate.Created):
        number: int
        short_id: int
        project_id: UUID
        hash: str
        generation: int
        meta: dict

    @event(Created)
    def __init__(self, number: int, short_id: int, project_id: UUID, hash: str, generation: int,
                 meta: dict) -> None:
        self.number = number
        self.generation = generation
        self.short_id = short_id
        self.project_id = project_id
        self.hash = hash
        self.status = 'unresolved'
        self.status_details: dict = {}
        self.forward_to: UUID | None = None

    @staticmethod
    def create_id(project_id: UUID, hash: str, generation: int, **_: object) -> UUID:
        return group_id(project_id, hash, generation)

    class Forwarded(Aggregate.Event):
        to: UUID
        meta: dict

    @event(Forwarded)
    def forward(self, to: UUID, meta: dict) -> None:
        """Later events for this issue's hashes go to `to` (a merge parent, or the
        new issue that replaces a deleted one)."""
        self.forward_to = to

    class Regressed(Aggregate.Event):
        event_id: str
        meta: dict

    @event(Regressed)
    def _regress(self, event_id: str, meta: dict) -> None:
        self.status = 'unresolved'
        self.status_details = {}

    class StatusChanged(Aggregate.Event):
        status: str
        details: dict
        meta: dict

    @event(StatusChanged)
    def change_status(self, status: str, details: dict, meta: dict) -> None:
        self.check_not_deleted()
        self.status = status
        self.status_details = details

    def record_event(self, event_id: str, meta: dict) -> None:
        """A new event for this issue: a resolved issue regresses."""
        if self.status == 'resolved':
            self._regress(event_id, meta)


def group_id(project_id: UUID, hash: str, generation: int = 0) -> UUID:
    """Deterministic, so two processes creating the issue for a new hash collide."""
    if generation:
        return natural_id('group', project_id, hash, generation)
    return natural_id('group', project_id, hash)
