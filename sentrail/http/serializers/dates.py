"""Sentry's date format: ISO 8601 UTC with milliseconds and Z."""
from __future__ import annotations

from datetime import datetime, timezone


def iso(epoch_ms: int | None) -> str | None:
    if epoch_ms is None:
        return None
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.replace(tzinfo=None).isoformat(timespec='milliseconds') + 'Z'  # years before 1000 too: 0161-…
