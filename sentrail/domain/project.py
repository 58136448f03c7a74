"""Projects receive events; their integer id is what DSNs carry."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity

DEFAULT_OPTIONS = {
    'sentry:origins': ['*'],
    'sentry:resolve_age': 0,
    'sentry:scrub_data': True,
    'sentry:scrub_defaults': True,
    'sentry:safe_fields': [],
    'sentry:sensitive_fields': [],
    'sentry:csp_ignored_sources_defaults': True,
    'sentry:csp_ignored_sources': [],
    'sentry:reprocessing_active': False,
    'filters:blacklisted_ips': [],
    'filters:releases': [],
    'filters:error_messages': [],
    'feedback:branding': True,
}


class Project(Entity):
    class Created(Aggregate.Created):
        number: int
        organization_id: UUID
        team_id: UUID
        slug: str
        name: str
        platform: str | None
        meta: dict

    @event(Created)
    def __init__(self, number: int, organization_id: UUID, team_id: UUID, slug: str, name: str,
                 platform: str | None, meta: dict) -> None:
        self.number = number
        self.organization_id = organization_id
        self.team_id = team_id
        self.slug = slug
        self.name = name
        self.platform = platform
        self.options = dict(DEFAULT_OPTIONS)
        self.subject_prefix = ''
        self.subject_template = '[$project] ${tag:level}: $title'
        self.digests_min_delay = 300
        self.digests_max_delay = 1800
        self.bookmarked_by: list = []

    class BookmarkSet(Aggregate.Event):
        user_id: str
        bookmarked: bool
        meta: dict

    @event(BookmarkSet)
    def set_bookmark(self, user_id: str, bookmarked: bool, meta: dict) -> None:
        others = [u for u in self.bookmarked_by if u != user_id]
        self.bookmarked_by = others + [user_id] if bookmarked else others
