"""Sentry's date format: ISO 8601 UTC with milliseconds and Z."""
from __future__ import annotations

from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)
# The moments a date can show. A stored time beyond them (say, an ignore's end
# recorded before its duration was bounded) shows as the nearest one, not as a 500.
EARLIEST_MS = (datetime.min - EPOCH) // timedelta(milliseconds=1)
LATEST_MS = (datetime.max - EPOCH) // timedelta(milliseconds=1)


def iso(epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    moment = EPOCH + timedelta(milliseconds=min(max(epoch_ms, EARLIEST_MS), LATEST_MS))
    return moment.isoformat(timespec='milliseconds') + 'Z'  # years before 1000 too: 0161-…
