"""Sentry 8.22's Group shapes (the issue, the StreamGroup of lists, the issue
detail), its activity entries and GroupHash."""
from __future__ import annotations

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso

SHORT_ID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
LEVELS = ('sample', 'debug', 'info', 'warning', 'error', 'fatal')


def base32(number: int) -> str:
    """Sentry's short-id numbers: base 32 without I, L, O and U."""
    digits = ''
    while True:
        number, digit = divmod(number, 32)
        digits = SHORT_ID_ALPHABET[digit] + digits
        if not number:
            return digits


def short_id(project: Row, number: int) -> str:
    return f'{project.slug.upper()}-{base32(number)}'


def group(row: Row, project: Row, org: Row, url_prefix: str) -> dict:
    return {
        'id': str(row.number),
        'shareId': None,
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
        'status': row.status,
        'statusDetails': dict(row.status_details or {}),
        'isPublic': bool(row.is_public),
        'project': {'id': str(project.number), 'name': project.name, 'slug': project.slug},
        'type': row.type,
        'metadata': dict(row.metadata or {}),
        'numComments': int(row.num_comments),
        'assignedTo': None,
        'isBookmarked': False,
        'isSubscribed': False,
        'subscriptionDetails': None,
        'hasSeen': False,
        'annotations': [],
    }


def stream_group(row: Row, project: Row, org: Row, url_prefix: str, stats: dict | None) -> dict:
    """The issue as lists show it: with its graph for the asked period, if any."""
    body = group(row, project, org, url_prefix)
    if stats is not None:
        body['stats'] = stats
    return body


def release(version: str | None) -> dict | None:
    return {'version': version} if version else None


def group_detail(row: Row, project: Row, org: Row, url_prefix: str, *, activity: list[dict], tags: list[dict],
                 stats: dict) -> dict:
    return {
        **group(row, project, org, url_prefix),
        'activity': activity,
        'seenBy': [],
        'firstRelease': release(row.first_release),
        'lastRelease': release(row.last_release),
        'pluginActions': [],
        'pluginIssues': [],
        'pluginContexts': [],
        'participants': [],
        'userReportCount': 0,
        'tags': tags,
        'stats': stats,
    }


def activity_entry(row: Row, user: dict | None) -> dict:
    return {'id': str(row.id), 'user': user, 'type': row.type, 'data': dict(row.data or {}),
            'dateCreated': iso(row.date)}


def first_seen_entry(row: Row) -> dict:
    """The entry Sentry adds to every issue's history: when it was first seen."""
    return {'id': '0', 'user': None, 'type': 'first_seen', 'data': {}, 'dateCreated': iso(row.first_seen)}


def group_hash(row: Row, latest_event: dict | None) -> dict:
    return {'id': row.hash, 'latestEvent': latest_event}
