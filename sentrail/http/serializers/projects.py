"""Sentry's Project shapes (summary, with team, with organization, detailed)."""
from __future__ import annotations

import hashlib

from sqlalchemy.engine import Row

from sentrail.domain.project import DEFAULT_OPTIONS, LINE_OPTIONS
from sentrail.http.serializers.dates import iso
from sentrail.http.serializers.organizations import organization
from sentrail.http.serializers.teams import team
from sentrail.projections.projects import DEFAULT_SETTINGS

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


def project_with_team(row: Row, team_row: Row | None, *, stats: list | None = None, **flags: bool) -> dict:
    """ProjectWithTeam; `team` is null only for a project caught mid-deletion of its team,
    `stats` ([[ts, count], ...]) is there only when a statsPeriod was asked for. A member
    of the project is a member of its team."""
    team_body = team(team_row, is_member=flags.get('is_member', False)) if team_row else None
    body = {**project(row, **flags), 'team': team_body}
    if stats is not None:
        body['stats'] = stats
    return body


def project_with_organization(row: Row, org_row: Row, **flags: bool) -> dict:
    return {**project(row, **flags), 'organization': organization(org_row)}


def project_options(options: dict) -> dict:
    """Line lists leave as one newline-joined string, the form Sentry's settings forms edit."""
    shown = {**DEFAULT_OPTIONS, **options}
    return {key: '\n'.join(value) if key in LINE_OPTIONS else value for key, value in shown.items()}


def detailed_project(row: Row, team_row: Row | None, org_row: Row, **flags: bool) -> dict:
    settings = {**DEFAULT_SETTINGS, **(row.settings or {})}
    return {
        **project_with_team(row, team_row, **flags),
        'organization': organization(org_row),
        'options': project_options(row.options or {}),
        'digestsMinDelay': settings['digests_min_delay'],
        'digestsMaxDelay': settings['digests_max_delay'],
        'subjectPrefix': settings['subject_prefix'],
        'subjectTemplate': settings['subject_template'],
        'latestRelease': None,
        'plugins': [],
        'platforms': [],
        'processingIssues': 0,
        'defaultEnvironment': None,
    }
