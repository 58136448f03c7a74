"""The base every sentrail aggregate shares: partial updates and soft deletion as events."""
from __future__ import annotations

from eventsourcing.domain import Aggregate

from sentrail.domain.errors import NotFound


class Entity(Aggregate):
    """An aggregate whose fields change by partial updates and which is deleted softly.

    Subclasses get their own `Updated`/`Deleted` classes (eventsourcing redefines
    nested events per subclass), so projections can dispatch on `Team.Updated`.
    """

    deleted = False

    class Updated(Aggregate.Event):
        changes: dict
        meta: dict

        def apply(self, aggregate: Aggregate) -> None:
            for name, value in self.changes.items():
                setattr(aggregate, name, value)

    class Deleted(Aggregate.Event):
        meta: dict

        def apply(self, aggregate: Aggregate) -> None:
            aggregate.deleted = True

    def update(self, changes: dict, meta: dict) -> dict:
        """Record only the fields that really change; returns them."""
        self.check_not_deleted()
        changed = {k: v for k, v in changes.items() if getattr(self, k, None) != v}
        if changed:
            self.trigger_event(self.Updated, changes=changed, meta=meta)
        return changed

    def delete(self, meta: dict) -> None:
        self.check_not_deleted()
        self.trigger_event(self.Deleted, meta=meta)

    def check_not_deleted(self) -> None:
        if self.deleted:
            raise NotFound('The requested resource does not exist')
