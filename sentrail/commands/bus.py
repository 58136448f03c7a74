"""Routes each command to its handler, retrying handlers that lost a write race."""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from eventsourcing.persistence import IntegrityError

from sentrail.commands.application import Sentrail
from sentrail.domain.errors import Conflict

MAX_ATTEMPTS = 12
RETRY_LOG = 'concurrent write: retrying %s (attempt %d of %d)'
GAVE_UP_LOG = 'concurrent write: gave up %s after %d attempts (409)'

log = logging.getLogger('sentrail.commands')


@dataclass
class Outcome:
    """What HTTP needs back: the public id created or touched, and the log position
    to catch the projections up to before answering (read-your-writes)."""

    id: str | None = None
    position: int = 0
    data: dict = field(default_factory=dict)


Handler = Callable[[Sentrail, Any], Outcome]
HANDLERS: dict[type, Handler] = {}


def handles(command_class: type) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[command_class] = handler
        return handler
    return register


def save(app: Sentrail, *aggregates: object, id: str | None = None, **data: Any) -> Outcome:
    """Save everything a command touched in one atomic write."""
    recordings = app.save(*[a for a in aggregates if a is not None])
    position = max((r.notification.id for r in recordings), default=0)
    return Outcome(id=id, position=position, data=data)


class CommandBus:
    def __init__(self, app: Sentrail) -> None:
        self.app = app
        self.retries = 0

    def handle(self, command: object) -> Outcome:
        """Run the command's handler; on a concurrent write to the same aggregate,
        reload and decide again (the handler re-checks its invariants). Each
        retry is counted in `retries` and logged (RETRY_LOG), so operators and
        the concurrency test can see how often writers collide."""
        handler = HANDLERS[type(command)]
        for attempt in range(MAX_ATTEMPTS):
            try:
                return handler(self.app, command)
            except IntegrityError:
                if attempt + 1 < MAX_ATTEMPTS:
                    self.retries += 1
                    log.info(RETRY_LOG, type(command).__name__, attempt + 2, MAX_ATTEMPTS)
                    time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
        log.warning(GAVE_UP_LOG, type(command).__name__, MAX_ATTEMPTS)
        raise Conflict('The resource was changed concurrently; please retry.')
