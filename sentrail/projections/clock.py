"""Read tables keep times as integer epoch milliseconds: exact keyset cursors, cheap sorts."""
from __future__ import annotations

from datetime import datetime


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
