"""The domain's exception family; http/errors.py maps each kind to a status."""


class DomainError(Exception):
    """A command was refused for a reason the caller can act on."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(DomainError):
    """The thing named does not exist (or is deleted)."""


class Conflict(DomainError):
    """The change collides with existing state, e.g. a slug that is taken."""


class Forbidden(DomainError):
    """The actor may not make this change, whatever its scopes say."""


class Invalid(DomainError):
    """A field failed validation; `field` lets the answer use Sentry's {field: [msg]} shape."""

    def __init__(self, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field
