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
        """Apply a batch in log order."""
        for event, position in batch:
            self.apply(conn, event, position)

    def fold(self, conn: Connection) -> Fold:
        """What takes this projection's entries in one transaction."""
        return Fold(self, conn)

    def clear(self, conn: Connection) -> None:
        for table in reversed(self.tables):
            conn.execute(table.delete())


class Fold:
    """A projection's share of one transaction: the log's entries arrive in
    order, a chunk at a time (`add`), and `finish` writes whatever was held
    back. This one holds nothing back; see FoldingProjection."""

    def __init__(self, projection: Projection, conn: Connection) -> None:
        self.projection = projection
        self.conn = conn

    def add(self, batch: list[tuple[DomainEventProtocol, int]]) -> None:
        self.projection.apply_batch(self.conn, batch)

    def finish(self) -> None:
        pass


class PendingFold(Fold):
    """A fold that keeps what ingested events add in a pending batch of its
    projection (`pending_class`, with a `write(conn)`) until the transaction
    ends. Subclasses feed it in `add`."""

    pending_class: ClassVar[type]

    def __init__(self, projection: Projection, conn: Connection) -> None:
        super().__init__(projection, conn)
        self.pending = self.pending_class()

    def finish(self) -> None:
        self.pending.write(self.conn)


class FoldingProjection(Projection):
    """A projection under heavy traffic: its fold (`fold_class`) keeps the
    rows that ingested events touch in memory until the transaction ends, so
    each is written once however many events touch it, in however many
    chunks they arrive."""

    fold_class: ClassVar[type[Fold]]

    def fold(self, conn: Connection) -> Fold:
        return self.fold_class(self, conn)

    def apply_batch(self, conn: Connection, batch: list[tuple[DomainEventProtocol, int]]) -> None:
        fold = self.fold(conn)
        fold.add(batch)
        fold.finish()
