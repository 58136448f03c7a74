"""An issue: events grouped by fingerprint. Its state changes by commands
(resolve, ignore, assign, share, merge, delete) and by the events it receives
(a regression, an ignore that lapses); what grows with traffic (counts, tags,
events) lives in projections, so the stream stays short.

An ignore with a count condition is the one place where traffic reaches the
stream: each event while it holds is a `Counted`, and the condition bounds
them (the count-th event, or the user-count-th user, lifts the ignore).

One user's relation to one issue (bookmark, subscription, last view, recent
notes) is a `GroupUser` of its own, so that per-user traffic never lands on
the issue itself.
"""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.errors import Invalid, NotFound
from sentrail.domain.identity import natural_id

STATUSES = ('unresolved', 'resolved', 'ignored')
# statusDetails keys of an ignore, as Sentry's activity records them.
IGNORE_KEYS = ('ignoreCount', 'ignoreDuration', 'ignoreUntil', 'ignoreUserCount', 'ignoreUserWindow', 'ignoreWindow')
MINUTE_MS = 60_000
NOTE_REPEAT_MS = 3_600_000  # Sentry refuses the same note from the same user within an hour
DUPLICATE_NOTE = 'You have already posted that comment.'
# An ignore's conditions hold what Sentry's validator and columns do: windows of
# at most a week (minutes), counts and durations (minutes) in 32-bit integers,
# so an ignore's end is always a date.
IGNORE_WINDOWS = ('ignoreWindow', 'ignoreUserWindow')
MAX_IGNORE_WINDOW = 7 * 24 * 60
MAX_IGNORE_NUMBER = 2 ** 31 - 1


def ignore_maximum(name: str) -> int:
    return MAX_IGNORE_WINDOW if name in IGNORE_WINDOWS else MAX_IGNORE_NUMBER


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
        self.resolution: dict | None = None
        self.snooze: dict | None = None
        self.snooze_seen = 0
        self.snooze_times: list[int] = []
        self.snooze_users: dict[str, int] = {}
        self.assignee_id: str | None = None
        self.share_id: str | None = None

    @staticmethod
    def create_id(project_id: UUID, hash: str, generation: int, **_: object) -> UUID:
        return group_id(project_id, hash, generation)

    @property
    def is_live(self) -> bool:
        """Neither deleted nor merged into another issue."""
        return not self.deleted and self.forward_to is None

    def check_not_deleted(self) -> None:
        if not self.is_live:
            raise NotFound('The requested resource does not exist')

    class Forwarded(Aggregate.Event):
        to: UUID
        to_number: int
        meta: dict

    @event(Forwarded)
    def forward(self, to: UUID, to_number: int, meta: dict) -> None:
        """Later events for this issue's hashes go to `to` (a merge parent, or the
        new issue that replaces a deleted one); read models move what it had there."""
        self.forward_to = to

    class Merged(Aggregate.Event):
        """These issues (`[{'id': uuid, 'number': n}]`) were merged into this one."""

        children: list
        meta: dict

    @event(Merged)
    def _absorb(self, children: list, meta: dict) -> None:
        pass

    def merge(self, children: list[Group], meta: dict) -> None:
        """Forward every child here and record the merge on this issue."""
        self.check_not_deleted()
        for child in children:
            child.check_not_deleted()
            if child.project_id != self.project_id:
                raise Invalid('Merging across multiple projects is not supported')
        for child in children:
            child.forward(self.id, self.number, meta)
        self._absorb([{'id': str(c.id), 'number': c.number} for c in children], meta)

    class Regressed(Aggregate.Event):
        event_id: str
        version: str
        meta: dict

    @event(Regressed)
    def _regress(self, event_id: str, version: str, meta: dict) -> None:
        self._set_status('unresolved', {})

    class StatusChanged(Aggregate.Event):
        """`details` is what the command decided: for an ignore the IGNORE_KEYS
        (`ignoreUntil` in epoch ms), for a resolution in a release `inRelease` or
        `inNextRelease` with the release's `releaseNumber`; `actor` (a user's
        public id, or None for a key) when statusDetails names who did it."""

        status: str
        details: dict
        meta: dict

    @event(StatusChanged)
    def change_status(self, status: str, details: dict, meta: dict) -> None:
        self._set_status(status, details)

    def _set_status(self, status: str, details: dict) -> None:
        self.status = status
        self.status_details = dict(details)
        self.resolution = resolution_of(status, details)
        self.snooze = snooze_of(status, details)
        self.snooze_seen, self.snooze_times, self.snooze_users = 0, [], {}

    class Counted(Aggregate.Event):
        """One more event while an ignore with a count condition holds; `seen` and
        `users` are the counts since the ignore that it leaves."""

        at: int
        user: str | None
        seen: int
        users: int
        meta: dict

    @event(Counted)
    def _count(self, at: int, user: str | None, seen: int, users: int, meta: dict) -> None:
        self.snooze_seen, self.snooze_times, self.snooze_users, _ = sighting(
            self.snooze or {}, self.snooze_seen, self.snooze_times, self.snooze_users, at, user)

    def record_event(self, event_id: str, meta: dict, *, at: int | None = None,
                     release: tuple[int, str] | None = None, user: str | None = None) -> None:
        """A new event for this issue, received at `at` (epoch ms), of `release`
        ((number, version): a higher number is a newer release) and from `user`
        (the `user` tag). A resolved issue regresses unless its resolution says
        the release is not newer; an ignore counts it and may lapse."""
        if self.status == 'resolved' and regresses(self.resolution, release):
            self._regress(event_id, release[1] if release else '', meta)
        elif self.status == 'ignored' and self.snooze is not None and at is not None:
            seen, times, users, changed = sighting(self.snooze, self.snooze_seen, self.snooze_times,
                                                   self.snooze_users, at, user)
            if lapsed(self.snooze, seen, times, users, at):
                self.change_status('unresolved', {}, meta)
            elif changed:
                self._count(at, user, len(times) if self.snooze.get('window') else seen, len(users), meta)

    class Assigned(Aggregate.Event):
        user_id: str
        user_number: str
        email: str
        meta: dict

    @event(Assigned)
    def _assign(self, user_id: str, user_number: str, email: str, meta: dict) -> None:
        self.assignee_id = user_id

    class Unassigned(Aggregate.Event):
        meta: dict

    @event(Unassigned)
    def _unassign(self, meta: dict) -> None:
        self.assignee_id = None

    def assign(self, user: tuple[str, str, str] | None, meta: dict) -> bool:
        """Assign to `user` ((id, public id, email)), or nobody; True if it changed."""
        self.check_not_deleted()
        if user is None:
            if self.assignee_id is None:
                return False
            self._unassign(meta)
            return True
        if user[0] == self.assignee_id:
            return False
        self._assign(user[0], user[1], user[2], meta)
        return True

    class Shared(Aggregate.Event):
        share_id: str
        meta: dict

    @event(Shared)
    def _share(self, share_id: str, meta: dict) -> None:
        self.share_id = share_id

    class Unshared(Aggregate.Event):
        meta: dict

    @event(Unshared)
    def _unshare(self, meta: dict) -> None:
        self.share_id = None

    def set_public(self, public: bool, share_id: str, meta: dict) -> None:
        """As Sentry: making an issue public again replaces its share (a new id)."""
        self.check_not_deleted()
        if self.share_id is not None:
            self._unshare(meta)
        if public:
            self._share(share_id, meta)


def resolution_of(status: str, details: dict) -> dict | None:
    """What a resolution in a release decides regressions by: its kind and the
    release's number (higher numbers are newer releases)."""
    if status != 'resolved' or details.get('releaseNumber') is None:
        return None
    kind = 'in_next_release' if details.get('inNextRelease') else 'in_release'
    return {'type': kind, 'number': details['releaseNumber']}


def snooze_of(status: str, details: dict) -> dict | None:
    """An ignore's conditions; None when it holds until changed by hand."""
    if status != 'ignored':
        return None
    snooze = {'until': details.get('ignoreUntil'), 'count': details.get('ignoreCount'),
              'window': details.get('ignoreWindow'), 'user_count': details.get('ignoreUserCount'),
              'user_window': details.get('ignoreUserWindow')}
    return snooze if snooze['until'] or snooze['count'] or snooze['user_count'] else None


def regresses(resolution: dict | None, release: tuple[int, str] | None) -> bool:
    """Sentry's GroupResolution.has_resolution, negated: an event without a release
    never reopens a resolution in a release; one resolved in the next release
    reopens for a newer release only, one resolved in a release for that release
    or a newer one."""
    if resolution is None:
        return True
    if release is None:
        return False
    if resolution['type'] == 'in_next_release':
        return release[0] > resolution['number']
    return release[0] >= resolution['number']


def sighting(snooze: dict, seen: int, times: list[int], users: dict[str, int], at: int,
             user: str | None) -> tuple[int, list[int], dict[str, int], bool]:
    """An ignore's counters after one more event at `at`, and whether they need
    recording. Windows keep only what falls inside them; a user is counted once
    per window (from when first seen in it)."""
    changed = False
    if snooze.get('count'):
        changed = True
        if snooze.get('window'):
            times = [t for t in times if t > at - snooze['window'] * MINUTE_MS] + [at]
        else:
            seen += 1
    if snooze.get('user_count') and user:
        window = snooze.get('user_window')
        users = {u: t for u, t in users.items() if not window or t > at - window * MINUTE_MS}
        if user not in users:
            users = {**users, user: at}
            changed = True
    return seen, times, users, changed


def lapsed(snooze: dict, seen: int, times: list[int], users: dict[str, int], at: int) -> bool:
    if snooze.get('until') and at >= snooze['until']:
        return True
    if snooze.get('count') and (len(times) if snooze.get('window') else seen) >= snooze['count']:
        return True
    return bool(snooze.get('user_count')) and len(users) >= snooze['user_count']


def group_id(project_id: UUID, hash: str, generation: int = 0) -> UUID:
    """Deterministic, so two processes creating the issue for a new hash collide."""
    if generation:
        return natural_id('group', project_id, hash, generation)
    return natural_id('group', project_id, hash)


class GroupUser(Aggregate):
    """One user and one issue: bookmark, subscription (None: never decided, so an
    implicit subscription may still set it), when the user last saw it, and the
    digests of the user's notes of the last hour (Sentry refuses repeats)."""

    class Started(Aggregate.Created):
        group_id: UUID
        user_id: UUID

    @event(Started)
    def __init__(self, group_id: UUID, user_id: UUID) -> None:
        self.group_id = group_id
        self.user_id = user_id
        self.bookmarked = False
        self.subscribed: bool | None = None
        self.reason: str | None = None
        self.seen_at: int | None = None
        self.notes: dict[str, int] = {}

    @staticmethod
    def create_id(group_id: UUID, user_id: UUID) -> UUID:
        return group_user_id(group_id, user_id)

    class BookmarkSet(Aggregate.Event):
        bookmarked: bool
        meta: dict

    @event(BookmarkSet)
    def _bookmark(self, bookmarked: bool, meta: dict) -> None:
        self.bookmarked = bookmarked

    def set_bookmark(self, bookmarked: bool, meta: dict) -> None:
        if bookmarked != self.bookmarked:
            self._bookmark(bookmarked, meta)

    class SubscriptionSet(Aggregate.Event):
        subscribed: bool
        reason: str
        meta: dict

    @event(SubscriptionSet)
    def _subscribe(self, subscribed: bool, reason: str, meta: dict) -> None:
        self.subscribed = subscribed
        self.reason = reason

    def subscribe(self, reason: str, meta: dict) -> None:
        """An implicit subscription (by commenting, assignment...): only if the user never decided."""
        if self.subscribed is None:
            self._subscribe(True, reason, meta)

    def set_subscription(self, subscribed: bool, meta: dict) -> None:
        """An explicit choice, whose reason is 'unknown' as in Sentry."""
        if (self.subscribed, self.reason) != (subscribed, 'unknown'):
            self._subscribe(subscribed, 'unknown', meta)

    class SeenSet(Aggregate.Event):
        """`at` None: the user's views are forgotten (hasSeen false)."""

        at: int | None
        meta: dict

    @event(SeenSet)
    def _see(self, at: int | None, meta: dict) -> None:
        self.seen_at = at

    def mark_seen(self, at: int | None, meta: dict) -> None:
        if at is not None or self.seen_at is not None:
            self._see(at, meta)

    class Noted(Aggregate.Event):
        digest: str
        at: int
        meta: dict

    @event(Noted)
    def _note(self, digest: str, at: int, meta: dict) -> None:
        self.notes = {d: t for d, t in self.notes.items() if t > at - NOTE_REPEAT_MS}
        self.notes[digest] = at

    def note(self, digest: str, at: int, meta: dict) -> None:
        """The user posts a note with this digest of its text; the same within an hour is refused."""
        if self.notes.get(digest, -NOTE_REPEAT_MS) > at - NOTE_REPEAT_MS:
            raise Invalid(DUPLICATE_NOTE)
        self._note(digest, at, meta)


def group_user_id(group_id: UUID, user_id: UUID) -> UUID:
    return natural_id('group-user', group_id, user_id)
