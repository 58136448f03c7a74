"""Organizations: the tenant boundary every other resource hangs from."""
from __future__ import annotations

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity

DEFAULT_FLAGS = {
    'open_membership': True,
    'allow_shared_issues': True,
    'enhanced_privacy': False,
    'data_scrubber': False,
    'data_scrubber_defaults': False,
    'scrub_ip_addresses': False,
    'is_early_adopter': False,
    'require_2fa': False,
}


class Organization(Entity):
    class Created(Aggregate.Created):
        number: int
        slug: str
        name: str
        meta: dict

    @event(Created)
    def __init__(self, number: int, slug: str, name: str, meta: dict) -> None:
        self.number = number
        self.slug = slug
        self.name = name
        self.default_role = 'member'
        self.flags = dict(DEFAULT_FLAGS)
        self.sensitive_fields: list = []
        self.safe_fields: list = []
        self.account_rate_limit = 0
        self.project_rate_limit = 100
