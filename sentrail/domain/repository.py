"""Repositories: where a release's commits come from, unique by name in an organization."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.errors import Invalid
from sentrail.domain.identity import natural_id

# Provider ids sentry-cli knows how to match against a git remote, with Sentry's names.
PROVIDERS = {
    'git': 'Git',
    'github': 'GitHub',
    'gitlab': 'GitLab',
    'bitbucket': 'Bitbucket',
    'visualstudio': 'Visual Studio Team Services',
    'integrations:github': 'GitHub',
    'integrations:github_enterprise': 'GitHub Enterprise',
    'integrations:gitlab': 'GitLab',
    'integrations:bitbucket': 'Bitbucket',
    'integrations:bitbucket_server': 'Bitbucket Server',
    'integrations:vsts': 'Azure DevOps',
}
MAX_NAME_LENGTH = 200


class Repository(Entity):
    """Named by the write side so two creators of one name collide; a deleted
    repository named again is reopened under the same id."""

    class Created(Aggregate.Created):
        number: int
        organization_id: UUID
        name: str
        provider: str | None
        url: str | None
        meta: dict

    @event(Created)
    def __init__(self, number: int, organization_id: UUID, name: str, provider: str | None, url: str | None,
                 meta: dict) -> None:
        self.organization_id = organization_id
        self.name = name
        self.number = number
        self.provider = provider
        self.url = url

    @staticmethod
    def create_id(organization_id: UUID, name: str, **_: object) -> UUID:
        return repository_id(organization_id, name)

    class Reopened(Aggregate.Event):
        provider: str | None
        url: str | None
        meta: dict

    @event(Reopened)
    def reopen(self, provider: str | None, url: str | None, meta: dict) -> None:
        self.provider = provider
        self.url = url
        self.deleted = False


def repository_id(organization_id: UUID, name: str) -> UUID:
    return natural_id('repository', organization_id, name)


def check_repository_name(name: object, field: str = 'name') -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid('This field is required.', field=field)
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(f'Ensure this field has no more than {MAX_NAME_LENGTH} characters.', field=field)
    return name.strip()


def check_provider(provider: object) -> str | None:
    if provider is None or provider == '':
        return None
    if provider not in PROVIDERS:
        raise Invalid(f'Select a valid choice. {provider} is not one of the available choices.', field='provider')
    return provider  # type: ignore[return-value]
