"""Inviting, changing and removing organization members, and their team memberships.

Who may do what is decided here against the aggregates, with the caller's
standing passed in as `max_role`: the highest role the caller may hand out or
act upon (nobody grants more than they hold). Every change that makes or
unmakes an owner also writes the organization's OwnerRoster, so the rule "an
organization keeps at least one owner" holds under concurrent requests.
"""
from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sentrail.commands.accounts import normalize_email
from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.domain.actor import Actor
from sentrail.domain.errors import Forbidden, Invalid, NotFound
from sentrail.domain.member import ONLY_OWNER_DEMOTED, Member, OwnerRoster, member_id, owner_roster_id
from sentrail.domain.organization import Organization
from sentrail.domain.roles import ROLE_ORDER, outranks
from sentrail.domain.team import Team
from sentrail.domain.user import User, user_id_for_email

INVITE_REFUSED = 'You do not have permission to invite that role.'
ASSIGN_REFUSED = 'You do not have permission to assign that role.'
OUTRANKED_REMOVE = 'You cannot remove a member who has more access than you.'
OUTRANKED_CHANGE = 'You cannot change a member who has more access than you.'


@dataclass(frozen=True)
class InviteMember:
    """`owner_hint`: the member ids the read side lists as owners, used only to
    start the organization's OwnerRoster if it has none yet (each is checked)."""

    organization_id: UUID
    email: str
    role: str
    actor: Actor
    team_ids: tuple[UUID, ...] = ()
    max_role: str = 'owner'
    owner_hint: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class UpdateMember:
    member_id: UUID
    actor: Actor
    max_role: str | None = None
    role: str | None = None
    team_ids: tuple[UUID, ...] | None = None
    reinvite: bool = False
    owner_hint: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class RemoveMember:
    """`max_role` None means the member is leaving of their own accord."""

    member_id: UUID
    actor: Actor
    max_role: str | None = None
    owner_hint: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class JoinTeam:
    member_id: UUID
    team_id: UUID
    actor: Actor


@dataclass(frozen=True)
class LeaveTeam:
    member_id: UUID
    team_id: UUID
    actor: Actor


def check_role(role: object) -> str:
    if role not in ROLE_ORDER:
        raise Invalid(f'Select a valid choice. {role} is not one of the available choices.', field='role')
    return str(role)


def check_grant(max_role: str | None, role: str, refusal: str) -> None:
    if max_role is None or outranks(role, max_role):
        raise Forbidden(refusal)


def check_teams(app: Sentrail, organization_id: UUID, team_ids: tuple[UUID, ...]) -> list[UUID]:
    for team_id in team_ids:
        team = app.find(team_id)
        if not isinstance(team, Team) or team.deleted or team.organization_id != organization_id:
            raise Invalid('Invalid team', field='teams')
    return list(dict.fromkeys(team_ids))


def roster_of(app: Sentrail, organization_id: UUID, hint: tuple[UUID, ...]) -> OwnerRoster:
    """The organization's roster; started from the hinted owners that really are
    owners when there is none yet (organizations are created without one)."""
    roster = app.find(owner_roster_id(organization_id))
    if isinstance(roster, OwnerRoster):
        return roster
    owners = [m.id for m in map(app.find, hint)
              if isinstance(m, Member) and m.is_owner and m.organization_id == organization_id]
    return OwnerRoster(organization_id=organization_id, owner_ids=owners)


def linked_user(app: Sentrail, email: str) -> UUID | None:
    user = app.find(user_id_for_email(email))
    return user.id if isinstance(user, User) and not user.deleted else None


@handles(InviteMember)
def invite_member(app: Sentrail, cmd: InviteMember) -> Outcome:
    org = app.load(Organization, cmd.organization_id)
    email = normalize_email(cmd.email)
    role = check_role(cmd.role)
    team_ids = check_teams(app, org.id, cmd.team_ids)
    check_grant(cmd.max_role, role, INVITE_REFUSED)
    meta = cmd.actor.meta()
    existing = app.find(member_id(org.id, email))
    sequence, number = app.next_number('member')
    user_id = linked_user(app, email)
    if isinstance(existing, Member):
        existing.readd(number=number, user_id=user_id, role=role, team_ids=team_ids, meta=meta)
        member = existing
    else:
        member = Member(number=number, organization_id=org.id, email=email, user_id=user_id, role=role,
                        team_ids=team_ids, meta=meta)
    roster = None
    if role == 'owner':
        roster = roster_of(app, org.id, cmd.owner_hint)
        roster.admit(member.id)
    return save(app, sequence, member, roster, id=str(number), member_id=member.id)


@handles(UpdateMember)
def update_member(app: Sentrail, cmd: UpdateMember) -> Outcome:
    member = app.load(Member, cmd.member_id)
    meta = cmd.actor.meta()
    if cmd.reinvite:
        member.reinvite(meta)
    roster = None
    if cmd.role is not None or cmd.team_ids is not None:
        if cmd.max_role is None or outranks(member.role, cmd.max_role):
            raise Invalid(OUTRANKED_CHANGE)
    if cmd.role is not None and cmd.role != member.role:
        role = check_role(cmd.role)
        check_grant(cmd.max_role, role, ASSIGN_REFUSED)
        if member.is_owner or role == 'owner':
            roster = roster_of(app, member.organization_id, cmd.owner_hint)
            if role == 'owner':
                roster.admit(member.id)
            else:
                roster.dismiss(member.id, ONLY_OWNER_DEMOTED)
        member.update({'role': role}, meta)
    if cmd.team_ids is not None:
        member.set_teams(check_teams(app, member.organization_id, cmd.team_ids), meta)
    return save(app, member, roster, id=str(member.number))


@handles(RemoveMember)
def remove_member(app: Sentrail, cmd: RemoveMember) -> Outcome:
    member = app.load(Member, cmd.member_id)
    if cmd.max_role is not None and outranks(member.role, cmd.max_role):
        raise Invalid(OUTRANKED_REMOVE)
    roster = None
    if member.is_owner:
        roster = roster_of(app, member.organization_id, cmd.owner_hint)
        roster.dismiss(member.id)
    member.delete(cmd.actor.meta())
    return save(app, member, roster, id=str(member.number))


def member_and_team(app: Sentrail, member_uuid: UUID, team_uuid: UUID) -> tuple[Member, Team]:
    member = app.load(Member, member_uuid)
    team = app.load(Team, team_uuid)
    if team.organization_id != member.organization_id:
        raise NotFound('The requested resource does not exist')
    return member, team


@handles(JoinTeam)
def join_team(app: Sentrail, cmd: JoinTeam) -> Outcome:
    """Joining twice changes nothing; `joined` tells the caller which happened."""
    member, team = member_and_team(app, cmd.member_id, cmd.team_id)
    if team.id in member.team_ids:
        return Outcome(id=str(member.number), data={'joined': False})
    member.join_team(team.id, cmd.actor.meta())
    return save(app, member, id=str(member.number), joined=True)


@handles(LeaveTeam)
def leave_team(app: Sentrail, cmd: LeaveTeam) -> Outcome:
    member, team = member_and_team(app, cmd.member_id, cmd.team_id)
    if team.id not in member.team_ids:
        return Outcome(id=str(member.number), data={'left': False})
    member.leave_team(team.id, cmd.actor.meta())
    return save(app, member, id=str(member.number), left=True)
