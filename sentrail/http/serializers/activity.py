"""Sentry's Activity shape: an issue's history entries, notes included."""
from __future__ import annotations

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso

DATE_FIELDS = ('ignoreUntil',)  # kept as epoch ms, shown as Sentry's dates


def activity_entry(row: Row, user: dict | None) -> dict:
    data = dict(row.data or {})
    for name in DATE_FIELDS:
        if isinstance(data.get(name), int):
            data[name] = iso(data[name])
    return {'id': str(row.id), 'user': user, 'type': row.type, 'data': data, 'dateCreated': iso(row.date)}


def first_seen_entry(row: Row) -> dict:
    """The entry Sentry adds to every issue's history: when it was first seen."""
    return {'id': '0', 'user': None, 'type': 'first_seen', 'data': {}, 'dateCreated': iso(row.first_seen)}
