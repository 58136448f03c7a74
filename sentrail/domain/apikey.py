"""Credentials bound to an organization or a project rather than to a person."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.identity import natural_id


class ApiKey(Entity):
    """An organization API key (HTTP Basic, key as username)."""

    class Created(Aggregate.Created):
        number: int
        organization_id: UUID
        key: str
        label: str
        scopes: list
        meta: dict

    @event(Created)
    def __init__(self, number: int, organization_id: UUID, key: str, label: str, scopes: list,
                 meta: dict) -> None:
        self.number = number
        self.organization_id = organization_id
        self.key = key
        self.label = label
        self.scopes = scopes
        self.allowed_origins = ''
        self.status = 0


class ProjectKey(Entity):
    """A client key (DSN); its id derives from the public key, which must be unique."""

    class Created(Aggregate.Created):
        number: int
        project_id: UUID
        public: str
        secret: str
        name: str
        meta: dict

    @event(Created)
    def __init__(self, number: int, project_id: UUID, public: str, secret: str, name: str,
                 meta: dict) -> None:
        self.number = number
        self.project_id = project_id
        self.public = public
        self.secret = secret
        self.name = name
        self.is_active = True
        self.rate_limit: dict | None = None

    @staticmethod
    def create_id(number: int, project_id: UUID, public: str, **_: object) -> UUID:
        return project_key_id(public)


def project_key_id(public: str) -> UUID:
    return natural_id('projectkey', public)
