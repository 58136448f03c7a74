"""Sentry's AuditLogEntry shape, from an audit row (the table's or the replay's)."""
from __future__ import annotations

from typing import Any, Mapping

from sentrail.http.serializers.dates import iso


def actor(recorded: dict) -> dict:
    """The credential behind the change: a user by id and email, or a key by its label."""
    if recorded.get('user_id'):
        return {'id': recorded['user_id'], 'name': recorded.get('label'), 'email': recorded.get('label'),
                'type': 'user'}
    return {'name': recorded.get('label') or 'sentrail', 'type': recorded.get('type') or 'system'}


def audit_entry(row: Mapping[str, Any]) -> dict:
    return {
        'id': str(row['id']),
        'actor': actor(row['actor'] or {}),
        'event': row['event'],
        'ipAddress': row['ip'],
        'note': row['note'],
        'targetObject': row['target_object'],
        'targetUser': row['target_user'],
        'data': row['data'],
        'dateCreated': iso(row['date']),
    }
