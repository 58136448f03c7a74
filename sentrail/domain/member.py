"""Organization membership: a role, and the teams a member belongs to; and who owns the organization."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.errors import Conflict, Forbidden, Invalid
from sentrail.domain.identity import natural_id

ONLY_OWNER = 'You cannot remove the only remaining owner of the organization.'
ONLY_OWNER_DEMOTED = 'You cannot demote the only remaining owner of the organization.'
UNINVITABLE = 'You cannot send an invitation to a user who is already a full member.'


class Member(Entity):
    """One person in one organization; its id derives from (organization, email).

    `user_id` is None while the invitation is pending (no user had that email
    when it was sent).
    """

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
        """A removed member invited again: a new public number, role and teams."""

        number: int
        organization_id: UUID
        email: str
        user_id: UUID | None
        role: str
        team_ids: list
        meta: dict

    def readd(self, number: int, user_id: UUID | None, role: str, team_ids: list, meta: dict) -> None:
        if not self.deleted:
            raise Conflict(f'The user {self.email} is already a member')
        self._readd(number=number, organization_id=self.organization_id, email=self.email, user_id=user_id,
                    role=role, team_ids=team_ids, meta=meta)

    @event(Readded)
    def _readd(self, number: int, organization_id: UUID, email: str, user_id: UUID | None, role: str,
               team_ids: list, meta: dict) -> None:
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

    def set_teams(self, team_ids: list[UUID], meta: dict) -> None:
        """Replace the member's teams by joins and leaves, so each shows in the audit trail."""
        wanted = list(dict.fromkeys(team_ids))
        for team_id in [t for t in self.team_ids if t not in wanted]:
            self.leave_team(team_id, meta)
        for team_id in [t for t in wanted if t not in self.team_ids]:
            self.join_team(team_id, meta)

    class Reinvited(Aggregate.Event):
        """The invitation was sent again; recorded for the audit trail only."""

        meta: dict

    @event(Reinvited)
    def reinvite(self, meta: dict) -> None:
        self.check_not_deleted()
        if self.user_id is not None:
            raise Invalid(UNINVITABLE)

    @property
    def is_owner(self) -> bool:
        return not self.deleted and self.role == 'owner'


def member_id(organization_id: UUID, email: str) -> UUID:
    return natural_id('member', organization_id, email.strip().lower())


class OwnerRoster(Aggregate):
    """The owners of one organization.

    Every command that makes or unmakes an owner saves this aggregate together
    with the member, so two concurrent removals (or demotions) of two different
    owners write the same stream: one wins, the other is retried against the new
    roster and refused if it would leave the organization without an owner.
    """

    class Started(Aggregate.Created):
        organization_id: UUID
        owner_ids: list

    @event(Started)
    def __init__(self, organization_id: UUID, owner_ids: list) -> None:
        self.organization_id = organization_id
        self.owner_ids = list(dict.fromkeys(owner_ids))

    @staticmethod
    def create_id(organization_id: UUID, **_: object) -> UUID:
        return owner_roster_id(organization_id)

    class OwnerAdded(Aggregate.Event):
        member_id: UUID

    @event(OwnerAdded)
    def _add(self, member_id: UUID) -> None:
        self.owner_ids = [*self.owner_ids, member_id]

    class OwnerRemoved(Aggregate.Event):
        member_id: UUID

    @event(OwnerRemoved)
    def _remove(self, member_id: UUID) -> None:
        self.owner_ids = [m for m in self.owner_ids if m != member_id]

    def admit(self, member_id: UUID) -> None:
        if member_id not in self.owner_ids:
            self._add(member_id)

    def dismiss(self, member_id: UUID, refusal: str = ONLY_OWNER) -> None:
        """Drop an owner (the caller has seen the member is one), unless nobody
        would be left to own the organization. An owner the roster missed is
        counted first, so a roster started short can only refuse too often."""
        self.admit(member_id)
        if len(self.owner_ids) == 1:
            raise Forbidden(refusal)
        self._remove(member_id)


def owner_roster_id(organization_id: UUID) -> UUID:
    return natural_id('owners', organization_id)
