"""Creating tables when several processes may do it at once.

gunicorn's workers (and the projection follower beside them) each create
whatever tables are missing as they start. On a new database two of them can
both find a table missing and both create it; the loser's CREATE fails (on
PostgreSQL with a duplicate in its catalog, on SQLite with "already exists"),
which would stop that worker from booting and gunicorn with it. Looking again
finds the table made, so the loser simply tries again."""
from __future__ import annotations

import time
from typing import Callable

import sqlalchemy.exc

ATTEMPTS = 5
PAUSE = 0.05  # seconds, times the attempt number


def create_tables(create: Callable[[], None]) -> None:
    """Run `create` (a create-if-missing), again if a concurrent creator got in first."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            create()
            return
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError,
                sqlalchemy.exc.OperationalError):
            if attempt == ATTEMPTS:
                raise
            time.sleep(PAUSE * attempt)
