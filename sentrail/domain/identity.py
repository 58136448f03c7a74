"""Deterministic aggregate ids for things with a natural identity.

Two concurrent creators of the same natural key derive the same UUID, so the
event store refuses the second one instead of letting a duplicate in.
"""
from __future__ import annotations

from uuid import UUID, uuid5

NAMESPACE = UUID('6f1c2b1e-5d0e-4a39-9d55-3c3a2b7f0a11')


def natural_id(kind: str, *parts: object) -> UUID:
    return uuid5(NAMESPACE, ':'.join([kind, *map(str, parts)]))
