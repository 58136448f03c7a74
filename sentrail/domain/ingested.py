"""An ingested Sentry event: a fact recorded once and never changed."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.identity import natural_id


class IngestedEvent(Aggregate):
    """Its id derives from (project, event_id), so the same event sent twice is stored once."""

    class Received(Aggregate.Created):
        project_id: UUID
        project_number: int
        group_id: UUID
        group_number: int
        hashes: list
        summary: dict
        data: dict
        meta: dict

    @event(Received)
    def __init__(self, project_id: UUID, project_number: int, group_id: UUID, group_number: int,
                 hashes: list, summary: dict, data: dict, meta: dict) -> None:
        self.project_id = project_id
        self.group_id = group_id
        self.event_id = data['event_id']

    @staticmethod
    def create_id(project_id: UUID, data: dict, **_: object) -> UUID:
        return ingested_id(project_id, data['event_id'])


def ingested_id(project_id: UUID, event_id: str) -> UUID:
    return natural_id('event', project_id, event_id)
