"""First-run set-up: an organization, team, project, owner and fresh credentials.

Creates only what is missing, so running it again changes nothing but hands out
a new API key and a new auth token.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit
from uuid import UUID

from sentrail.commands.accounts import IssueToken, RegisterUser
from sentrail.commands.organizations import (CreateApiKey, CreateOrganization, CreateProject,
                                             CreateTeam)
from sentrail.domain.actor import SYSTEM
from sentrail.domain.roles import SCOPES
from sentrail.projections import accounts, organizations, projects
from sentrail.services import Services

DEFAULT_EMAIL = 'admin@sentrail.local'


@dataclass
class Installation:
    organization: str
    team: str
    project_id: str
    project_slug: str
    user_id: str
    email: str
    api_key: str
    auth_token: str
    dsn: str
    password: str | None = None

    def as_json(self) -> dict:
        return {
            'organization': self.organization,
            'team': self.team,
            'project': {'id': self.project_id, 'slug': self.project_slug},
            'user': {'id': self.user_id, 'email': self.email},
            'api_key': self.api_key,
            'auth_token': self.auth_token,
            'dsn': self.dsn,
        }


def dsn_for(url_prefix: str, public_key: str, project_number: int) -> str:
    parts = urlsplit(url_prefix)
    return f'{parts.scheme}://{public_key}@{parts.netloc}{parts.path.rstrip("/")}/{project_number}'


def ensure_installation(services: Services, org_slug: str, team_slug: str, project_slug: str,
                        email: str = DEFAULT_EMAIL, password: str | None = None) -> Installation:
    run = services.execute
    new_password = None
    with services.read() as conn:
        user = accounts.user_by_email(conn, email)
    if user is None:
        new_password = password or secrets.token_urlsafe(12)
        run(RegisterUser(email=email, password=new_password, is_superuser=True, actor=SYSTEM))
    with services.read() as conn:
        user = accounts.user_by_email(conn, email)
        org = organizations.org_by_slug(conn, org_slug)
    if org is None:
        run(CreateOrganization(name=org_slug, slug=org_slug, owner_id=UUID(user.id), actor=SYSTEM))
        with services.read() as conn:
            org = organizations.org_by_slug(conn, org_slug)
    with services.read() as conn:
        team = organizations.team_by_slug(conn, org.id, team_slug)
    if team is None:
        run(CreateTeam(organization_id=UUID(org.id), name=team_slug, slug=team_slug,
                       creator_id=UUID(user.id), actor=SYSTEM))
        with services.read() as conn:
            team = organizations.team_by_slug(conn, org.id, team_slug)
    with services.read() as conn:
        project = projects.project_by_slug(conn, org.id, project_slug)
    if project is None:
        run(CreateProject(team_id=UUID(team.id), name=project_slug, slug=project_slug, actor=SYSTEM))
    with services.read() as conn:
        project = projects.project_by_slug(conn, org.id, project_slug)
        keys = [k for k in projects.keys_of_project(conn, project.id) if k.is_active]
    api_key = run(CreateApiKey(organization_id=UUID(org.id), label='bootstrap', scopes=list(SCOPES),
                               actor=SYSTEM)).data['key']
    token = run(IssueToken(user_id=UUID(user.id), scopes=list(SCOPES), actor=SYSTEM)).data['token']
    public = keys[-1].public if keys else ''
    return Installation(
        organization=org.slug, team=team.slug, project_id=str(project.number), project_slug=project.slug,
        user_id=str(user.number), email=user.email, api_key=api_key, auth_token=token,
        dsn=dsn_for(services.config.url_prefix, public, project.number), password=new_password,
    )


def store_is_empty(services: Services) -> bool:
    return services.runner.head() == 0
