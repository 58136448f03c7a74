"""A note (comment) on an issue: its own aggregate, because only its author
edits or deletes it, and an issue must not grow with its conversation."""
from __future__ import annotations

import hashlib
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.entity import Entity
from sentrail.domain.errors import Invalid, NotFound

MAX_TEXT = 80_000  # far above any real comment; keeps one event bounded


class Note(Entity):
    class Created(Aggregate.Created):
        group_id: UUID
        project_id: UUID
        user_id: UUID | None
        text: str
        mentions: list
        meta: dict

    @event(Created)
    def __init__(self, group_id: UUID, project_id: UUID, user_id: UUID | None, text: str, mentions: list,
                 meta: dict) -> None:
        self.group_id = group_id
        self.project_id = project_id
        self.user_id = user_id
        self.text = text

    def check_author(self, user_id: UUID | None) -> None:
        """Someone else's note does not exist for the caller, as in Sentry."""
        self.check_not_deleted()
        if user_id is None or self.user_id != user_id:
            raise NotFound('The requested resource does not exist')

    def edit(self, text: str, user_id: UUID | None, meta: dict) -> None:
        self.check_author(user_id)
        self.update({'text': check_text(text)}, meta)

    def remove(self, user_id: UUID | None, meta: dict) -> None:
        self.check_author(user_id)
        self.delete(meta)


def check_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise Invalid('This field is required.', field='text')
    if len(text) > MAX_TEXT:
        raise Invalid(f'Ensure this field has no more than {MAX_TEXT} characters.', field='text')
    return text


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
