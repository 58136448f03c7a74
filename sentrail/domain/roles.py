"""Sentry's scopes and the roles that grant them (Sentry 8.x SENTRY_ROLES)."""
from __future__ import annotations

from sentrail.domain.errors import Invalid

SCOPES = (
    'org:read', 'org:write', 'org:admin',
    'member:read', 'member:write', 'member:admin',
    'team:read', 'team:write', 'team:admin',
    'project:read', 'project:write', 'project:admin', 'project:releases',
    'event:read', 'event:write', 'event:admin',
)

API_KEY_DEFAULT_SCOPES = ('project:read', 'event:read', 'team:read', 'org:read', 'member:read')

_EVENT = ('event:read', 'event:write', 'event:admin')

ROLES: dict[str, dict] = {
    'member': {
        'name': 'Member',
        'desc': 'Members can view and act on events, as well as view most other data within the organization.',
        'is_global': False,
        'scopes': _EVENT + ('project:releases', 'project:read', 'org:read', 'member:read', 'team:read'),
    },
    'admin': {
        'name': 'Admin',
        'desc': "Admin privileges on any teams of which they're a member.",
        'is_global': False,
        'scopes': _EVENT + ('org:read', 'member:read', 'project:read', 'project:write', 'project:admin',
                            'project:releases', 'team:read', 'team:write', 'team:admin'),
    },
    'manager': {
        'name': 'Manager',
        'desc': 'Gains admin access on all teams as well as the ability to add and remove members.',
        'is_global': True,
        'scopes': _EVENT + ('member:read', 'member:write', 'member:admin', 'project:read', 'project:write',
                            'project:admin', 'project:releases', 'team:read', 'team:write', 'team:admin',
                            'org:read', 'org:write'),
    },
    'owner': {
        'name': 'Owner',
        'desc': 'Unrestricted access to the organization, its data, and its settings.',
        'is_global': True,
        'scopes': SCOPES,
    },
}

ROLE_ORDER = ('member', 'admin', 'manager', 'owner')


def role_scopes(role: str | None) -> frozenset[str]:
    return frozenset(ROLES[role]['scopes']) if role in ROLES else frozenset()


def outranks(role: str, other: str) -> bool:
    """True when `role` sits strictly above `other` (nobody grants more than they hold)."""
    return ROLE_ORDER.index(role) > ROLE_ORDER.index(other)


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise Invalid(f'Invalid scope: {unknown[0]}', field='scopes')
    return sorted(set(scopes), key=SCOPES.index)
