"""Sentry's Organization and DetailedOrganization shapes."""
from __future__ import annotations

from sqlalchemy.engine import Row

from sentrail.domain.roles import ROLE_ORDER, ROLES
from sentrail.http.serializers.dates import iso

FEATURES = ['api-keys', 'open-membership', 'shared-issues', 'releases', 'group-unmerge']


def organization(row: Row) -> dict:
    return {
        'id': str(row.number),
        'slug': row.slug,
        'name': row.name or row.slug,
        'dateCreated': iso(row.date_created),
        'isEarlyAdopter': bool(row.flags.get('is_early_adopter')),
        'require2FA': bool(row.flags.get('require_2fa')),
        'requireEmailVerification': False,
        'avatar': {'avatarType': 'letter_avatar', 'avatarUuid': None},
        'status': {'id': 'active', 'name': 'active'},
        'features': list(FEATURES),
    }


def detailed_organization(row: Row, *, access: list[str], teams: list[dict], projects: list[dict]) -> dict:
    flags = row.flags
    return {
        **organization(row),
        'quota': {'maxRate': None, 'maxRateInterval': 60, 'accountLimit': row.account_rate_limit,
                  'projectLimit': row.project_rate_limit},
        'isDefault': False,
        'defaultRole': row.default_role,
        'availableRoles': [{'id': role, 'name': ROLES[role]['name']} for role in ROLE_ORDER],
        'openMembership': bool(flags.get('open_membership')),
        'allowSharedIssues': bool(flags.get('allow_shared_issues')),
        'enhancedPrivacy': bool(flags.get('enhanced_privacy')),
        'dataScrubber': bool(flags.get('data_scrubber')),
        'dataScrubberDefaults': bool(flags.get('data_scrubber_defaults')),
        'scrubIPAddresses': bool(flags.get('scrub_ip_addresses')),
        'sensitiveFields': list(row.sensitive_fields),
        'safeFields': list(row.safe_fields),
        'teams': teams,
        'projects': projects,
        'access': access,
        'pendingAccessRequests': 0,
        'onboardingTasks': [],
    }
