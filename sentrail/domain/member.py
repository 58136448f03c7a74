"""Organization membership: a role, and the teams a member belongs to."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.errors import Conflict
from sentrail.domain.identity import natural_id


class Member(Entity):
    """One person in one organization; its id derives from (organization, email)."""

    class Added(Aggregate.Created):
        number: int
        organization_id: UUID
        email: str
        user_id: UUID | None
        role: str
        team_ids: list
        meta: dict

    @event(Added)
    def __init__(self, number: int, organization_id: UUID, email: str, user_id: UUID | None,
                 role: str, team_ids: list, meta: dict) -> None:
        self.number = number
        self.organization_id = organization_id
        self.email = email
        self.user_id = user_id
        self.role = role
        self.team_ids = list(team_ids)

    @staticmethod
    def create_id(number: int, organization_id: UUID, email: str, **_: object) -> UUID:
        return member_id(organization_id, email)

    class Readded(Aggregate.Event):
        number: int
        user_id: UUID | None
        role: str
        team_ids: list
        meta: dict

    @event(Readded)
    def readd(self, number: int, user_id: UUID | None, role: str, team_ids: list, meta: dict) -> None:
        if not self.deleted:
            raise Conflict(f'The user {self.email} is already a member')
        self.number = number
        self.user_id = user_id
        self.role = role
        self.team_ids = list(team_ids)
        self.deleted = False

    class TeamJoined(Aggregate.Event):
        team_id: UUID
        meta: dict

    @event(TeamJoined)
    def join_team(self, team_id: UUID, meta: dict) -> None:
        self.team_ids = [*self.team_ids, team_id]

    class TeamLeft(Aggregate.Event):
        team_id: UUID
        meta: dict

    @event(TeamLeft)
    def leave_team(self, team_id: UUID, meta: dict) -> None:
        self.team_ids = [t for t in self.team_ids if t != team_id]


def member_id(organization_id: UUID, email: str) -> UUID:
    return natural_id('member', organization_id, email.strip().lower())
