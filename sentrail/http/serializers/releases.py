"""Sentry's Release, Commit, Repository and Deploy shapes."""
from __future__ import annotations

from sqlalchemy.engine import Row

from sentrail.domain.release import short_version
from sentrail.domain.repository import PROVIDERS
from sentrail.http.serializers.dates import iso
from sentrail.http.serializers.users import user as serialize_user

UNKNOWN_PROVIDER = {'id': 'unknown', 'name': 'Unknown Provider'}


def release(row: Row, *, projects: list[dict], new_groups: int, first_event: int | None, last_event: int | None,
            last_commit: dict | None, last_deploy: dict | None, authors: list[dict]) -> dict:
    """`projects` and `new_groups` are for the one project asked about at project level,
    for all the release's projects at organization level."""
    return {
        'id': str(row.number),
        'version': row.version,
        'shortVersion': short_version(row.version),
        'status': row.status,
        'ref': row.ref,
        'url': row.url,
        'dateCreated': iso(row.date_created),
        'dateReleased': iso(row.date_released),
        'dateStarted': iso(row.date_started),
        'data': {},
        'newGroups': new_groups,
        'owner': None,
        'commitCount': row.commit_count,
        'lastCommit': last_commit,
        'deployCount': row.deploy_count,
        'lastDeploy': last_deploy,
        'authors': authors,
        'projects': projects,
        'firstEvent': iso(first_event),
        'lastEvent': iso(last_event),
    }


def release_project(row: Row, new_groups: int) -> dict:
    return {
        'id': row.number,
        'slug': row.slug,
        'name': row.name,
        'newGroups': new_groups,
        'platform': row.platform,
        'platforms': [row.platform] if row.platform else [],
        'hasHealthData': False,
    }


def author(name: str | None, email: str, user_row: Row | None) -> dict:
    """A member of the organization shows as its user, anyone else as name and email."""
    if user_row is not None:
        return serialize_user(user_row)
    return {'name': name or email, 'email': email}


def repository(row: Row) -> dict:
    provider = {'id': row.provider, 'name': PROVIDERS[row.provider]} if row.provider in PROVIDERS \
        else dict(UNKNOWN_PROVIDER)
    return {
        'id': str(row.number),
        'name': row.name,
        'url': row.url,
        'provider': provider,
        'status': row.status,
        'dateCreated': iso(row.date_created),
        'integrationId': None,
        'externalSlug': None,
    }


def commit(row: Row, repository_body: dict | None, author_body: dict | None) -> dict:
    return {
        'id': row.key,
        'message': row.message,
        'dateCreated': iso(row.date_added),
        'repository': repository_body,
        'author': author_body,
    }


def deploy(row: Row) -> dict:
    return {
        'id': str(row.number),
        'environment': row.environment,
        'name': row.name,
        'url': row.url,
        'dateStarted': iso(row.date_started),
        'dateFinished': iso(row.date_finished),
    }
