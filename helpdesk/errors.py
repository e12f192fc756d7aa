"""Domain errors. Services raise these; views and the API turn them into answers.

A message is an English sentence whose variable parts are named placeholders, filled from
keyword arguments, so that the sentence itself is a catalog entry:

    raise Conflict("A team named %(name)s exists already.", name=repr(name))

`message` is the English text (the API, the logs and the commands show it); `translated()` is
the same sentence in the request's language (the console and the portal show it). The error
classes are extraction keywords (helpdesk.i18n.CATALOG_KEYWORDS): the first argument must be a
literal string for its translation to be found; a literal % is written %% when values are
given."""

from flask_babel import gettext


class DomainError(Exception):
    """Base class: a request the domain refuses, with a message fit for the user."""

    code = "error"

    def __init__(self, message: str, fields: dict[str, str] | None = None, **values):
        self.template = message
        self.values = values
        self.message = message % values if values else message
        super().__init__(self.message)
        self.fields = fields or {}

    def at(self, field: str) -> "DomainError":
        """This error, its message shown next to `field` as well; for `raise X(...).at(f)`."""
        self.fields = {field: self.message}
        return self

    def translated(self) -> str:
        """The message in the request's language; the English one when there is no translation."""
        try:
            return gettext(self.template, **self.values)
        except (KeyError, ValueError, TypeError):  # a translation whose placeholders broke
            return self.message


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

    def __init__(self, message: str, retry_after: int, **values):
        super().__init__(message, **values)
        self.retry_after = retry_after
