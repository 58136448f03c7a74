"""Deploys: a release reaching an environment. Recorded once, never changed."""
from __future__ import annotations

import re
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.errors import Invalid

MAX_ENVIRONMENT_LENGTH = 64
_ENVIRONMENT = re.compile(r'^[^\n\r\f/]*$')


class Deploy(Aggregate):
    class Created(Aggregate.Created):
        number: int
        organization_id: UUID
        release_id: UUID
        version: str
        environment: str
        name: str | None
        url: str | None
        date_started: int | None
        date_finished: int
        meta: dict

    @event(Created)
    def __init__(self, number: int, organization_id: UUID, release_id: UUID, version: str, environment: str,
                 name: str | None, url: str | None, date_started: int | None, date_finished: int,
                 meta: dict) -> None:
        self.number = number
        self.release_id = release_id
        self.environment = environment


def check_environment(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise Invalid('This field is required.', field='environment')
    if len(name) > MAX_ENVIRONMENT_LENGTH or not _ENVIRONMENT.match(name):
        raise Invalid('Invalid value for environment', field='environment')
    return name
