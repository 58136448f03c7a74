"""Stored event state as JSON through orjson, in eventsourcing's own tagged format.

UUIDs and datetimes are written as {"_type_": ..., "_data_": ...} exactly as the
library's JSONTranscoder writes them, so either can read the other's events.
Ingested payloads (the `data` and `summary` of an IngestedEvent) are plain JSON
by construction; they are passed through untouched, which is what makes decoding
a large log fast enough for rebuilds.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Transcoder

OPAQUE_KEYS = frozenset({'data', 'summary'})
TYPE, DATA = '_type_', '_data_'
SCALARS = frozenset({str, int, float, bool, type(None)})


def _tag(value: Any) -> Any:
    """Scalars are passed over without a call, as in _untag."""
    if isinstance(value, UUID):
        return {TYPE: 'uuid_hex', DATA: value.hex}
    if isinstance(value, datetime):
        return {TYPE: 'datetime_iso', DATA: value.isoformat()}
    if isinstance(value, Decimal):
        return {TYPE: 'decimal_str', DATA: str(value)}
    if isinstance(value, dict):
        return {k: (v if type(v) in SCALARS else _tag(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [v if type(v) in SCALARS else _tag(v) for v in value]
    return value


def _untag(value: Any) -> Any:
    """Scalars, the most common values by far, are passed over without a call."""
    if type(value) is dict:
        kind = value.get(TYPE)
        if kind is not None and len(value) == 2 and DATA in value:
            data = value[DATA]
            if kind == 'uuid_hex':
                return UUID(data)
            if kind == 'datetime_iso':
                return datetime.fromisoformat(data)
            if kind == 'decimal_str':
                return Decimal(data)
        return {k: (v if type(v) in SCALARS else _untag(v)) for k, v in value.items()}
    if type(value) is list:
        return [v if type(v) in SCALARS else _untag(v) for v in value]
    return value


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        state = {k: (v if k in OPAQUE_KEYS or type(v) in SCALARS else _tag(v)) for k, v in obj.items()}
        return orjson.dumps(state)

    def decode(self, data: bytes) -> Any:
        state = orjson.loads(data)
        return {k: (v if k in OPAQUE_KEYS or type(v) in SCALARS else _untag(v)) for k, v in state.items()}
