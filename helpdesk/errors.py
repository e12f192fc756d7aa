"""Domain errors. Services raise these; views and the API turn them into answers."""


class DomainError(Exception):
    """Base class: a request the domain refuses, with a message fit for the user."""

    code = "error"

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(DomainError):
    """Input breaks a limit or a format rule; `fields` names each bad field."""

    code = "invalid"


class NotFound(DomainError):
    """The object does not exist, or the actor may not know that it does."""

    code = "not_found"


class PermissionDenied(DomainError):
    """The actor may see the object but not do this to it."""

    code = "forbidden"


class InvalidTransition(DomainError):
    """The ticket's status cannot change that way."""

    code = "invalid_transition"


class Conflict(DomainError):
    """The change clashes with the current state (a duplicate, a stale version)."""

    code = "conflict"


class RateLimited(DomainError):
    """Too many attempts; `retry_after` says how many seconds to wait."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
