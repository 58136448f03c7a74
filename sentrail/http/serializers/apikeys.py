"""Sentry's ApiKey shape: snake_case, unlike the rest of the API."""
from __future__ import annotations

from sqlalchemy.engine import Row


def api_key(row: Row) -> dict:
    return {
        'id': str(row.number),
        'label': row.label,
        'key': row.key,
        'scope_list': list(row.scopes),
        'status': row.status,
        'allowed_origins': row.allowed_origins or '',
    }
