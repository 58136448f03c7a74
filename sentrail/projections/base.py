"""A projection folds domain events into read tables, one handler per event class."""
from __future__ import annotations

from typing import Any, Callable, ClassVar

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Table


def handles(*event_classes: type) -> Callable:
    """Mark a Projection method as the handler of these event classes."""
    def mark(method: Callable) -> Callable:
        method.__handles__ = event_classes  # type: ignore[attr-defined]
        return method
    return mark


class Projection:
    """Subclasses name themselves, list their tables and mark handlers with @handles.

    Handlers run inside the runner's transaction, together with the tracking
    update, so a batch is applied exactly once or not at all.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]] = ()
    _handlers: ClassVar[dict[type, Callable]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._handlers = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for event_class in getattr(attr, '__handles__', ()):
                    cls._handlers[event_class] = attr

    @classmethod
    def topics(cls) -> list[str]:
        return sorted(get_topic(c) for c in cls._handlers)

    def handles_event(self, event: DomainEventProtocol) -> bool:
        return type(event) in self._handlers

    def apply(self, conn: Connection, event: DomainEventProtocol, position: int) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, conn, event, position)

    def apply_batch(self, conn: Connection, batch: list[tuple[DomainEventProtocol, int]]) -> None:
        """Apply a batch in log order. Projections under heavy traffic override
        this to fold the batch in memory and write each row once."""
        for event, position in batch:
            self.apply(conn, event, position)

    def clear(self, conn: Connection) -> None:
        for table in reversed(self.tables):
            conn.execute(table.delete())
