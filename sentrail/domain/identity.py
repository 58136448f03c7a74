"""Deterministic aggregate ids for things with a natural identity.

Two concurrent creators of the same natural key derive the same UUID, so the
event store refuses the second one instead of letting a duplicate in.
"""
from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = UUID('6f1c2b1e-5d0e-4a39-9d55-3c3a2b7f0a11')


@lru_cache(maxsize=65_536)
def natural_id(kind: str, *parts: object) -> UUID:
    """Remembered: ingestion derives the same issue, release and sequence ids
    for every event, and a SHA-1 each time costs more than the lookup."""
    return uuid5(NAMESPACE, ':'.join([kind, *map(str, parts)]))
