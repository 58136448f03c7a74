"""Public numeric ids, allocated on the write side so a command can answer with its id."""
from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from sentrail.domain.identity import natural_id
from sentrail.domain.numbers import capped_number

MAX_NUMBER = 2 ** 31 - 1  # public ids are 32-bit integers in the read models, as in Sentry


def public_number(text: str) -> int | None:
    """The public id a text names, or None when it cannot name one (not ASCII
    digits, or past any number a sequence hands out)."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = capped_number(text, MAX_NUMBER)
    return number if number <= MAX_NUMBER else None


class Sequence(Aggregate):
    """A counter per kind of thing; concurrent allocations conflict and are retried."""

    class Started(Aggregate.Created):
        kind: str

    @event(Started)
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.value = 0

    @staticmethod
    def create_id(kind: str) -> UUID:
        return sequence_id(kind)

    class Advanced(Aggregate.Event):
        value: int

    @event(Advanced)
    def _advance(self, value: int) -> None:
        self.value = value

    def allocate(self) -> int:
        self._advance(self.value + 1)
        return self.value


def sequence_id(kind: str) -> UUID:
    return natural_id('sequence', kind)
