"""Slugs: how they are made from names, what they may contain, and who holds one."""
from __future__ import annotations

import re
import unicodedata
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.errors import Conflict, Invalid
from sentrail.domain.identity import natural_id

SLUG_PATTERN = re.compile(r'^[a-z0-9_-]+$')
MAX_SLUG = 50


def slugify(name: str) -> str:
    text = unicodedata.normalize('NFKD', name).encode('ascii', 'ignore').decode('ascii')
    slug = re.sub(r'[^a-z0-9_-]+', '-', text.lower()).strip('-')
    return slug[:MAX_SLUG] or 'default'


def check_slug(slug: object) -> str:
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug) or len(slug) > MAX_SLUG:
        raise Invalid(
            'Enter a valid slug consisting of lowercase letters, numbers, underscores or hyphens.',
            field='slug',
        )
    return slug


class SlugClaim(Aggregate):
    """A unique index entry: the slug `key` within `scope` belongs to `owner_id`.

    Its id derives from (scope, key), so two creators racing for one slug
    collide in the event store and exactly one wins.
    """

    class Claimed(Aggregate.Created):
        scope: str
        key: str
        owner_id: UUID

    @event(Claimed)
    def __init__(self, scope: str, key: str, owner_id: UUID) -> None:
        self.scope = scope
        self.key = key
        self.owner_id: UUID | None = owner_id

    @staticmethod
    def create_id(scope: str, key: str, owner_id: UUID) -> UUID:
        return claim_id(scope, key)

    class Reclaimed(Aggregate.Event):
        owner_id: UUID

    @event(Reclaimed)
    def reclaim(self, owner_id: UUID) -> None:
        if self.owner_id is not None and self.owner_id != owner_id:
            raise Conflict(f'The slug "{self.key}" is already in use.')
        self.owner_id = owner_id

    class Released(Aggregate.Event):
        pass

    @event(Released)
    def release(self) -> None:
        self.owner_id = None


def claim_id(scope: str, key: str) -> UUID:
    return natural_id('slug', scope, key)
