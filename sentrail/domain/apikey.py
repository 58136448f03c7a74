"""Credentials bound to an organization or a project rather than to a person."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.errors import Invalid
from sentrail.domain.identity import natural_id
from sentrail.domain.roles import SCOPES


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

    def edit(self, meta: dict, *, label: str | None = None, scopes: list | None = None,
             allowed_origins: str | None = None) -> dict:
        """Change what Sentry lets an API key change; returns the fields that changed."""
        changes: dict = {}
        if label is not None:
            changes['label'] = check_key_label(label)
        if scopes is not None:
            changes['scopes'] = check_key_scopes(scopes)
        if allowed_origins is not None:
            changes['allowed_origins'] = check_origins(allowed_origins)
        return self.update(changes, meta)


MAX_LABEL = 64
MAX_ORIGINS = 2000


def check_key_label(label: object) -> str:
    if not isinstance(label, str):
        raise Invalid('Not a valid string.', field='label')
    if not label.strip():
        raise Invalid('This field is required.', field='label')
    if len(label) > MAX_LABEL:
        raise Invalid(f'Ensure this field has no more than {MAX_LABEL} characters.', field='label')
    return label.strip()


def check_key_scopes(scopes: object) -> list[str]:
    """Sentry's scopes only, in Sentry's order; a key with no scope could do nothing."""
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise Invalid('Enter a non-empty list of scopes.', field='scope_list')
    for scope in scopes:
        if scope not in SCOPES:
            raise Invalid(f'Select a valid choice. {scope} is not one of the available choices.',
                          field='scope_list')
    return sorted(set(scopes), key=SCOPES.index)


def check_origins(origins: object) -> str:
    """Newline-separated origins, as Sentry stores them; blank lines are dropped."""
    if not isinstance(origins, str):
        raise Invalid('Enter the allowed origins as one string, one origin per line.', field='allowed_origins')
    text = '\n'.join(line.strip() for line in origins.splitlines() if line.strip())
    if len(text) > MAX_ORIGINS:
        raise Invalid(f'Ensure this field has no more than {MAX_ORIGINS} characters.', field='allowed_origins')
    return text


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


MAX_RATE_LIMIT_WINDOW = 60 * 60 * 24


def check_rate_limit(rate_limit: object) -> dict | None:
    """A client key's rate limit: None, or `count` events (>= 0) per `window` seconds (<= a day)."""
    if rate_limit is None:
        return None
    if not isinstance(rate_limit, dict) or set(rate_limit) != {'count', 'window'}:
        raise Invalid('Expected {"count": ..., "window": ...} or null.', field='rateLimit')
    count, window = rate_limit['count'], rate_limit['window']
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (count, window)):
        raise Invalid('count and window must be whole numbers.', field='rateLimit')
    if count < 0 or not 0 <= window <= MAX_RATE_LIMIT_WINDOW:
        raise Invalid(f'Expected count >= 0 and a window of 0 to {MAX_RATE_LIMIT_WINDOW} seconds.',
                      field='rateLimit')
    return {'count': count, 'window': window}
