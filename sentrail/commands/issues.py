"""Changing issues: the bulk edit (one request, one atomic save of every issue it
touches), deletion, and notes.

The HTTP layer selects the issues from the read model and validates the
request; these handlers re-check what the write side owns (liveness, releases,
authors, duplicate notes) and decide each issue's events.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from uuid import UUID

from sentrail.commands.application import Sentrail
from sentrail.commands.bus import Outcome, handles, save
from sentrail.domain.actor import Actor
from sentrail.domain.errors import Invalid, NotFound
from sentrail.domain.group import MINUTE_MS, Group, GroupUser, group_user_id
from sentrail.domain.note import Note, check_text, text_digest
from sentrail.domain.release import Release

MAX_BULK = 1000  # Sentry's cap on the issues one bulk request may change
NO_RELEASE = "No release data present in the system to form a basis for 'Next Release'"
UNKNOWN_RELEASE = 'Unable to find a release with the given version.'


@dataclass(frozen=True)
class UpdateIssues:
    """A bulk edit. `group_ids` in the caller's order: with `merge`, the first is
    the parent. `status` is resolved, unresolved or ignored; `resolution`
    (in_release, in_next_release) qualifies resolved with `releases`, the
    release to use per project ((project id, release id) pairs). `snooze` holds
    an ignore's conditions (Sentry's ignore* names, minutes and counts).
    `assignee` is (user id, public id, email) or None to unassign, applied when
    `assign`. The per-user fields apply to `user_id` (None for API keys);
    `seen` only to a member of the project, which the caller checked."""

    group_ids: tuple
    actor: Actor
    user_id: UUID | None = None
    status: str | None = None
    resolution: str | None = None
    releases: tuple = ()
    snooze: dict = field(default_factory=dict)
    assign: bool = False
    assignee: tuple | None = None
    is_public: bool | None = None
    bookmarked: bool | None = None
    subscribed: bool | None = None
    seen: bool | None = None
    merge: bool = False


@dataclass(frozen=True)
class DeleteIssues:
    group_ids: tuple
    actor: Actor


@dataclass(frozen=True)
class CreateNote:
    group_id: UUID
    text: str
    actor: Actor
    user_id: UUID | None = None
    mentions: tuple = ()


@dataclass(frozen=True)
class EditNote:
    note_id: UUID
    text: str
    actor: Actor
    user_id: UUID | None = None


@dataclass(frozen=True)
class DeleteNote:
    note_id: UUID
    actor: Actor
    user_id: UUID | None = None


def now_ms() -> int:
    return int(time.time() * 1000)


def live_groups(app: Sentrail, group_ids: tuple) -> list[Group]:
    """The issues still there (one deleted or merged since it was selected is skipped)."""
    if len(group_ids) > MAX_BULK:
        raise Invalid(f'At most {MAX_BULK} issues can be changed at once.')
    wanted = list(dict.fromkeys(group_ids))
    found = app.find_many(wanted) if len(wanted) > 1 else {i: app.find(i) for i in wanted}
    return [g for g in (found.get(i) for i in wanted) if isinstance(g, Group) and g.is_live]


class Marks:
    """The GroupUser aggregates one command touches, loaded or started once each."""

    def __init__(self, app: Sentrail) -> None:
        self.app = app
        self.found: dict[UUID, GroupUser] = {}

    def _keep(self, key: UUID, mark: object, group_id: UUID, user_id: UUID) -> GroupUser:
        self.found[key] = mark if isinstance(mark, GroupUser) else GroupUser(group_id=group_id, user_id=user_id)
        return self.found[key]

    def preload(self, group_ids: list[UUID], user_id: UUID) -> None:
        """One user's marks on many issues, in one read."""
        keys = [group_user_id(g, user_id) for g in group_ids]
        found = self.app.find_many(keys)
        for group_id, key in zip(group_ids, keys):
            self._keep(key, found.get(key), group_id, user_id)

    def of(self, group_id: UUID, user_id: UUID) -> GroupUser:
        key = group_user_id(group_id, user_id)
        if key not in self.found:
            return self._keep(key, self.app.find(key), group_id, user_id)
        return self.found[key]

    def touched(self) -> list[GroupUser]:
        """What changed; a mark started now is saved only if something was set on it."""
        return [mark for mark in self.found.values()
                if len(mark.pending_events) > (1 if mark.version == len(mark.pending_events) else 0)]


def release_numbers(app: Sentrail, releases: tuple) -> dict[UUID, tuple[int, str]]:
    """(number, version) of the release chosen for each project; it must be live and linked."""
    chosen = {}
    for project_id, release_id in releases:
        release = app.find(release_id)
        if not isinstance(release, Release) or release.deleted or project_id not in release.project_ids:
            raise Invalid(UNKNOWN_RELEASE, field='statusDetails')
        chosen[project_id] = (release.number, release.release_version)
    return chosen


def status_details(cmd: UpdateIssues, group: Group, releases: dict, now: int) -> dict:
    """What the new status records: Sentry's statusDetails, plus what decides later regressions."""
    actor = cmd.actor.user_id
    if cmd.status == 'ignored':
        conditions = {key: cmd.snooze.get(key) or None for key in
                      ('ignoreCount', 'ignoreDuration', 'ignoreUserCount', 'ignoreUserWindow', 'ignoreWindow')}
        duration = conditions['ignoreDuration']
        return {**conditions, 'ignoreUntil': now + duration * MINUTE_MS if duration else None, 'actor': actor}
    if cmd.status == 'resolved' and cmd.resolution:
        if group.project_id not in releases:
            raise Invalid(NO_RELEASE)
        number, version = releases[group.project_id]
        if cmd.resolution == 'in_next_release':
            return {'inNextRelease': True, 'releaseNumber': number, 'actor': actor}
        return {'inRelease': version, 'releaseNumber': number, 'actor': actor}
    return {}


def change_status(cmd: UpdateIssues, group: Group, releases: dict, now: int, meta: dict) -> bool:
    details = status_details(cmd, group, releases, now)
    if (group.status, group.status_details) == (cmd.status, details):
        return False
    group.change_status(cmd.status, details, meta)
    return True


@handles(UpdateIssues)
def update_issues(app: Sentrail, cmd: UpdateIssues) -> Outcome:
    groups = live_groups(app, cmd.group_ids)
    meta, now = cmd.actor.meta(), now_ms()
    releases = release_numbers(app, cmd.releases) if cmd.resolution else {}
    marks = Marks(app)
    if cmd.user_id is not None and len(groups) > 1 and (cmd.bookmarked, cmd.subscribed, cmd.seen) != (None,) * 3:
        marks.preload([g.id for g in groups], cmd.user_id)
    shares: dict[int, str] = {}
    for group in groups:
        if cmd.status and change_status(cmd, group, releases, now, meta) and len(groups) == 1 and cmd.user_id:
            marks.of(group.id, cmd.user_id).subscribe('changed_status', meta)
        if cmd.assign and group.assign(cmd.assignee, meta) and cmd.assignee is not None:
            marks.of(group.id, UUID(cmd.assignee[0])).subscribe('assigned', meta)
        if cmd.is_public is not None:
            shares[group.number] = uuid.uuid4().hex
            group.set_public(cmd.is_public, shares[group.number], meta)
        if cmd.user_id is not None:
            mark_for_user(marks.of(group.id, cmd.user_id), cmd, now, meta)
    merged = None
    if cmd.merge and len(groups) > 1:
        parent, *children = groups
        parent.merge(children, meta)
        merged = {'parent': str(parent.number), 'children': [str(child.number) for child in children]}
    duration = cmd.snooze.get('ignoreDuration') if cmd.status == 'ignored' else None
    return save(app, *groups, *marks.touched(), id=None, numbers=[g.number for g in groups], merge=merged,
                shares=shares, until=now + duration * MINUTE_MS if duration else None)


def mark_for_user(mark: GroupUser, cmd: UpdateIssues, now: int, meta: dict) -> None:
    if cmd.bookmarked is not None:
        mark.set_bookmark(cmd.bookmarked, meta)
        if cmd.bookmarked:
            mark.subscribe('bookmarked', meta)
    if cmd.subscribed is not None:
        mark.set_subscription(cmd.subscribed, meta)
    if cmd.seen is not None:
        mark.mark_seen(now if cmd.seen else None, meta)


@handles(DeleteIssues)
def delete_issues(app: Sentrail, cmd: DeleteIssues) -> Outcome:
    groups = live_groups(app, cmd.group_ids)
    meta = cmd.actor.meta()
    for group in groups:
        group.delete(meta)
    return save(app, *groups, numbers=[g.number for g in groups])


def load_group(app: Sentrail, group_id: UUID) -> Group:
    group = app.load(Group, group_id)
    group.check_not_deleted()
    return group


@handles(CreateNote)
def create_note(app: Sentrail, cmd: CreateNote) -> Outcome:
    """The note's public id is its place in the log, as Sentry's notes are activity ids."""
    group = load_group(app, cmd.group_id)
    text = check_text(cmd.text)
    meta, now = cmd.actor.meta(), now_ms()
    note = Note(group_id=group.id, project_id=group.project_id, user_id=cmd.user_id, text=text,
                mentions=[str(m) for m in cmd.mentions], meta=meta)
    marks = Marks(app)
    if cmd.user_id is not None:
        author = marks.of(group.id, cmd.user_id)
        author.note(text_digest(text), now, meta)
        author.subscribe('commented', meta)
    for mentioned in cmd.mentions:
        marks.of(group.id, mentioned).subscribe('mentioned', meta)
    recordings = app.save(note, *marks.touched())
    position = next(r.notification.id for r in recordings if r.domain_event.originator_id == note.id)
    return Outcome(id=str(position), position=max(r.notification.id for r in recordings),
                   data={'note_id': note.id})


def load_note(app: Sentrail, note_id: UUID) -> Note:
    note = app.find(note_id)
    if not isinstance(note, Note):
        raise NotFound('The requested resource does not exist')
    return note


@handles(EditNote)
def edit_note(app: Sentrail, cmd: EditNote) -> Outcome:
    note = load_note(app, cmd.note_id)
    note.edit(cmd.text, cmd.user_id, cmd.actor.meta())
    return save(app, note, id=str(note.id))


@handles(DeleteNote)
def delete_note(app: Sentrail, cmd: DeleteNote) -> Outcome:
    note = load_note(app, cmd.note_id)
    note.remove(cmd.user_id, cmd.actor.meta())
    return save(app, note, id=str(note.id))
