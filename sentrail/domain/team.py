"""Teams group members and own projects within an organization."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity


class Team(Entity):
    class Created(Aggregate.Created):
        number: int
        organization_id: UUID
        slug: str
        name: str
        meta: dict

    @event(Created)
    def __init__(self, number: int, organization_id: UUID, slug: str, name: str, meta: dict) -> None:
        self.number = number
        self.organization_id = organization_id
        self.slug = slug
        self.name = name
