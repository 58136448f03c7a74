"""Projects receive events; their integer id is what DSNs carry."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.errors import Invalid
from sentrail.domain.numbers import capped_number

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

    def check_digests(self, changes: dict) -> None:
        """A digest may not wait less than its minimum, whichever of the two changes."""
        low = changes.get('digests_min_delay', self.digests_min_delay)
        high = changes.get('digests_max_delay', self.digests_max_delay)
        if high < low:
            raise Invalid('The maximum delay on digests must be higher than the minimum.',
                          field='digestsMaxDelay')


# Options whose value is a list of lines (origins, CSP sources, inbound filters);
# Sentry answers them as one newline-joined string.
LINE_OPTIONS = ('sentry:origins', 'sentry:csp_ignored_sources', 'filters:blacklisted_ips',
                'filters:releases', 'filters:error_messages')
FIELD_OPTIONS = ('sentry:safe_fields', 'sentry:sensitive_fields')
FLAG_OPTIONS = ('sentry:scrub_data', 'sentry:scrub_defaults', 'sentry:csp_ignored_sources_defaults',
                'sentry:reprocessing_active', 'feedback:branding')
CASE_SENSITIVE = ('filters:error_messages', 'filters:releases')


def clean_lines(value: object, lower: bool = True) -> list[str]:
    """Sentry's newline inputs: one entry per line (or list item), trimmed, blanks dropped."""
    if isinstance(value, str):
        value = value.split('\n')
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid('Expected a list of strings or newline-separated text.', field='options')
    lines = (v.strip() for v in value)
    return [v.lower() if lower else v for v in lines if v]


def clean_options(options: object) -> dict:
    """Validate and normalise the option keys a project PUT may set; unknown keys are refused."""
    if not isinstance(options, dict):
        raise Invalid('Expected a dictionary of options.', field='options')
    unknown = sorted(k for k in options if k not in DEFAULT_OPTIONS)
    if unknown:
        raise Invalid(f'Unknown option: {unknown[0]}', field='options')
    return {key: _clean_option(key, value) for key, value in options.items()}


def _clean_option(key: str, value: object) -> object:
    if key in LINE_OPTIONS:
        return clean_lines(value, lower=key not in CASE_SENSITIVE)
    if key in FIELD_OPTIONS:
        return clean_lines(value)
    if key in FLAG_OPTIONS:
        if not isinstance(value, (bool, int)) or value not in (True, False, 0, 1):
            raise Invalid(f"'{value}' value must be either True or False.", field='options')
        return bool(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = capped_number(value, 720)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 720:
        raise Invalid('sentry:resolve_age must be a whole number of hours between 0 and 720.',
                      field='options')
    return value
