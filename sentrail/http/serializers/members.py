"""Sentry's OrganizationMember shape, and the roles a caller may hand out."""
from __future__ import annotations

from sqlalchemy.engine import Row

from sentrail.domain.roles import ROLE_ORDER, ROLES
from sentrail.http.serializers.dates import iso
from sentrail.http.serializers.users import user as serialize_user


def member(row: Row, user_row: Row | None, *, teams: list[str] | None = None) -> dict:
    """`user_row` is the member's user (None while the invitation is pending);
    `teams` (slugs) adds the later OrganizationMemberWithTeams field."""
    email = user_row.email if user_row is not None else row.email
    body = {
        'id': str(row.number),
        'email': email,
        'name': (user_row.name or email) if user_row is not None else email,
        'user': serialize_user(user_row) if user_row is not None else None,
        'role': row.role,
        'roleName': ROLES[row.role]['name'],
        'pending': row.user_id is None,
        'flags': {'sso:linked': False, 'sso:invalid': False},
        'dateCreated': iso(row.date_created),
    }
    if teams is not None:
        body['teams'] = teams
    return body


def role(role_id: str) -> dict:
    spec = ROLES[role_id]
    return {'id': role_id, 'name': spec['name'], 'desc': spec['desc'], 'scopes': list(spec['scopes']),
            'is_global': spec['is_global']}


def allowed_roles(ceiling: str | None) -> list[dict]:
    """Every role, each marked with whether the caller may grant it (up to `ceiling`)."""
    top = ROLE_ORDER.index(ceiling) if ceiling in ROLE_ORDER else -1
    return [{'role': role(role_id), 'allowed': index <= top} for index, role_id in enumerate(ROLE_ORDER)]
