"""Sentry's Team, TeamWithProjects and team-detail shapes."""
from __future__ import annotations

from sqlalchemy.engine import Row

from sentrail.http.serializers.dates import iso
from sentrail.http.serializers.organizations import organization


def team(row: Row, *, is_member: bool = False, has_access: bool = True) -> dict:
    return {
        'id': str(row.number),
        'slug': row.slug,
        'name': row.name,
        'dateCreated': iso(row.date_created),
        'isMember': is_member,
        'hasAccess': has_access,
        'isPending': False,
        'avatar': {'avatarType': 'letter_avatar', 'avatarUuid': None},
    }


def team_with_projects(row: Row, projects: list[dict], **flags: bool) -> dict:
    return {**team(row, **flags), 'projects': projects}


def team_detail(row: Row, org_row: Row, **flags: bool) -> dict:
    return {**team(row, **flags), 'organization': organization(org_row)}

