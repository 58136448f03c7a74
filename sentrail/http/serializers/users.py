"""Sentry's User and ApiToken shapes."""
from __future__ import annotations

import hashlib

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso


def avatar_url(email: str) -> str:
    digest = hashlib.md5(email.strip().lower().encode()).hexdigest()
    return f'https://secure.gravatar.com/avatar/{digest}?s=32&d=mm'


def user(row: Row, *, is_self: bool = False) -> dict:
    body = {
        'id': str(row.number),
        'name': row.name or row.email,
        'username': row.username,
        'email': row.email,
        'avatarUrl': avatar_url(row.email),
        'isActive': bool(row.is_active),
        'isManaged': False,
        'dateJoined': iso(row.date_joined),
        'lastLogin': iso(row.last_login),
        'has2fa': False,
        'lastActive': iso(row.last_login),
        'isSuperuser': bool(row.is_superuser),
        'avatar': {'avatarType': 'letter_avatar', 'avatarUuid': None},
        'emails': [{'id': str(row.number), 'email': row.email, 'is_verified': True}],
    }
    if is_self:
        body['options'] = {'language': 'en', 'stacktraceOrder': 'default', 'timezone': 'UTC',
                           'clock24Hours': False}
        body['identities'] = []
    return body


def detailed_user(row: Row, *, is_self: bool = False) -> dict:
    """`users/{id}/` adds the two-factor devices; sentrail has none to list."""
    return {**user(row, is_self=is_self), 'authenticators': []}


def api_token(row: Row) -> dict:
    """A personal token, shown with its secret: its owner may always read it back, as in Sentry."""
    return {
        'id': str(row.number),
        'scopes': list(row.scopes),
        'application': None,
        'expiresAt': None,
        'dateCreated': iso(row.date_created),
        'token': row.token,
    }
