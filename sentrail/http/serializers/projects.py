"""Sentry's Project shapes (summary, with team, with organization)."""
from __future__ import annotations

import hashlib

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso

FEATURES = ['global-events', 'data-forwarding', 'rate-limits', 'custom-filters', 'similarity-view',
            'custom-inbound-filters', 'minidump']


def color_for(call_sign: str) -> str:
    return '#' + hashlib.md5(call_sign.encode()).hexdigest()[:6]


def project(row: Row, *, is_bookmarked: bool = False, is_member: bool = True) -> dict:
    call_sign = row.slug.upper()
    return {
        'id': str(row.number),
        'slug': row.slug,
        'name': row.name,
        'isPublic': False,
        'isBookmarked': is_bookmarked,
        'callSign': call_sign,
        'color': color_for(call_sign),
        'dateCreated': iso(row.date_created),
        'firstEvent': iso(row.first_event),
        'features': list(FEATURES),
        'status': 'active',
        'platform': row.platform,
        'isInternal': False,
        'isMember': is_member,
        'hasAccess': True,
        'avatar': {'avatarType': 'letter_avatar', 'avatarUuid': None},
    }
