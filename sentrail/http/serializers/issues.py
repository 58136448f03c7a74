"""Sentry 8.22's Group shapes (the issue, the StreamGroup of lists, the issue
detail), the bulk edit's answer, short ids and GroupHash."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso
from sentrail.http.serializers.users import user as serialize_user

SHORT_ID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
# Letters a reader may type for the digits they resemble, as Sentry's decoder accepts.
SHORT_ID_LOOKALIKES = {'I': '1', 'L': '1', 'O': '0'}
SHORT_ID = re.compile(r'^(.*?)[\s_-]([A-Za-z0-9]+)$')
LEVELS = ('sample', 'debug', 'info', 'warning', 'error', 'fatal')


def base32(number: int) -> str:
    """Sentry's short-id numbers: base 32 without I, L, O and U."""
    digits = ''
    while True:
        number, digit = divmod(number, 32)
        digits = SHORT_ID_ALPHABET[digit] + digits
        if not number:
            return digits


def parse_short_id(text: str) -> tuple[str, int] | None:
    """(project slug, short id number) of `WEB-1A`-like text, or None."""
    match = SHORT_ID.match(text.strip())
    if match is None or not match.group(1):
        return None
    number = 0
    for char in match.group(2).upper():
        char = SHORT_ID_LOOKALIKES.get(char, char)
        if char not in SHORT_ID_ALPHABET:
            return None
        number = number * 32 + SHORT_ID_ALPHABET.index(char)
    return match.group(1).lower(), number


def short_id(project: Row, number: int) -> str:
    return f'{project.slug.upper()}-{base32(number)}'


@dataclass
class Viewing:
    """What a group's shape needs beyond its row: the time (an ignore may have
    lapsed), the caller's own marks by group id, and the users it names (by id
    for assignees, by public id for the actors of status changes)."""

    now: int
    marks: dict[str, Row] = field(default_factory=dict)
    users: dict[str, Row] = field(default_factory=dict)
    actors: dict[str, Row] = field(default_factory=dict)

    def user(self, user_id: str | None) -> dict | None:
        row = self.users.get(user_id) if user_id else None
        return serialize_user(row) if row is not None else None

    def actor(self, public_id: str | None) -> dict | None:
        row = self.actors.get(public_id) if public_id else None
        return serialize_user(row) if row is not None else None


def ignore_lapsed(row: Row, now: int) -> bool:
    return row.status == 'ignored' and row.ignore_until is not None and row.ignore_until <= now


def status_of(row: Row, viewing: Viewing) -> tuple[str, dict]:
    """The status as Sentry shows it, with statusDetails: an ignore whose time
    has passed is unresolved; counts are what remains unless a window is set."""
    if ignore_lapsed(row, viewing.now):
        return 'unresolved', {}
    details = dict(row.status_details or {})
    if row.status == 'ignored' and details:
        if details.get('ignoreCount') and not details.get('ignoreWindow'):
            details['ignoreCount'] = details['ignoreCount'] - row.ignore_seen
        if details.get('ignoreUserCount') and not details.get('ignoreUserWindow'):
            details['ignoreUserCount'] = details['ignoreUserCount'] - row.ignore_users
        if details.get('ignoreUntil') is not None:
            details['ignoreUntil'] = iso(details['ignoreUntil'])
    if 'actor' in details:
        details['actor'] = viewing.actor(details['actor'])
    return row.status, details


def group(row: Row, project: Row, org: Row, url_prefix: str, viewing: Viewing) -> dict:
    status, details = status_of(row, viewing)
    mark = viewing.marks.get(row.id)
    active = row.active_at or row.first_seen
    return {
        'id': str(row.number),
        'shareId': row.share_id,
        'shortId': short_id(project, row.short_id),
        'count': str(row.times_seen),
        'userCount': int(row.user_count),
        'title': row.title,
        'culprit': row.culprit,
        'permalink': f'{url_prefix.rstrip("/")}/{org.slug}/{project.slug}/issues/{row.number}/',
        'firstSeen': iso(row.first_seen),
        'lastSeen': iso(row.last_seen),
        'logger': row.logger,
        'level': row.level if row.level in LEVELS else 'unknown',
        'status': status,
        'statusDetails': details,
        'isPublic': bool(row.is_public),
        'project': {'id': str(project.number), 'name': project.name, 'slug': project.slug},
        'type': row.type,
        'metadata': dict(row.metadata or {}),
        'numComments': int(row.num_comments),
        'assignedTo': viewing.user(row.assignee_id),
        'isBookmarked': bool(mark is not None and mark.bookmarked),
        'isSubscribed': bool(mark is not None and mark.subscribed),
        'subscriptionDetails': {'reason': mark.reason} if mark is not None and mark.subscribed else None,
        'hasSeen': bool(mark is not None and mark.seen_at is not None and mark.seen_at > active),
        'annotations': [],
    }


def stream_group(row: Row, project: Row, org: Row, url_prefix: str, viewing: Viewing, stats: dict | None,
                 matching_event_id: str | None = None) -> dict:
    """The issue as lists show it: with its graph for the asked period, if any,
    and the event a direct hit found."""
    body = group(row, project, org, url_prefix, viewing)
    if stats is not None:
        body['stats'] = stats
    if matching_event_id is not None:
        body['matchingEventId'] = matching_event_id
    return body


def release(version: str | None) -> dict | None:
    return {'version': version} if version else None


def seen_by(row: Row) -> dict:
    """A user who saw the issue, with when."""
    return {**serialize_user(row), 'lastSeen': iso(row.seen_at)}


def group_detail(row: Row, project: Row, org: Row, url_prefix: str, viewing: Viewing, *, activity: list[dict],
                 seen: list[dict], participants: list[dict], first_release: dict | None,
                 last_release: dict | None, tags: list[dict], stats: dict) -> dict:
    return {
        **group(row, project, org, url_prefix, viewing),
        'activity': activity,
        'seenBy': seen,
        'firstRelease': first_release,
        'lastRelease': last_release,
        'pluginActions': [],
        'pluginIssues': [],
        'pluginContexts': [],
        'participants': participants,
        'userReportCount': 0,
        'tags': tags,
        'stats': stats,
    }


def status_answer(status: str, resolution: str | None, version: str | None, snooze: dict, until: int | None,
                  actor: dict | None) -> dict:
    """What the bulk edit answers about a status it set (Sentry echoes statusDetails with the actor)."""
    details: dict = {}
    if status == 'resolved' and resolution == 'in_next_release':
        details = {'inNextRelease': True, 'actor': actor}
    elif status == 'resolved' and resolution == 'in_release':
        details = {'inRelease': version, 'actor': actor}
    elif status == 'ignored' and (until or snooze.get('ignoreCount') or snooze.get('ignoreUserCount')):
        details = {'ignoreCount': snooze.get('ignoreCount') or None, 'ignoreUntil': iso(until),
                   'ignoreUserCount': snooze.get('ignoreUserCount') or None,
                   'ignoreUserWindow': snooze.get('ignoreUserWindow') or None,
                   'ignoreWindow': snooze.get('ignoreWindow') or None, 'actor': actor}
    return {'status': status, 'statusDetails': details}


def group_hash(row: Row, latest_event: dict | None) -> dict:
    return {'id': row.hash, 'latestEvent': latest_event}
