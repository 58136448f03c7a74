"""Sentry's ProjectKey shape: a client key and the DSNs built from it."""
from __future__ import annotations

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso
from sentrail.seed import dsn_for


def rate_limit(value: dict | None) -> dict | None:
    """Sentry shows a limit only when both parts are set (non-zero)."""
    if not value or not value.get('count') or not value.get('window'):
        return None
    return {'window': value['window'], 'count': value['count']}


def dsn(row: Row, url_prefix: str) -> dict:
    prefix = url_prefix.rstrip('/')
    number = row.project_number
    return {
        'secret': dsn_for(url_prefix, f'{row.public}:{row.secret}', number),
        'public': dsn_for(url_prefix, row.public, number),
        'csp': f'{prefix}/api/{number}/csp-report/?sentry_key={row.public}',
        'minidump': f'{prefix}/api/{number}/minidump/?sentry_key={row.public}',
    }


def project_key(row: Row, url_prefix: str) -> dict:
    name = row.name or row.public[:14]
    return {
        'id': row.public,
        'name': name,
        'label': name,
        'public': row.public,
        'secret': row.secret,
        'projectId': row.project_number,
        'isActive': bool(row.is_active),
        'rateLimit': rate_limit(row.rate_limit),
        'dsn': dsn(row, url_prefix),
        'dateCreated': iso(row.date_created),
    }
