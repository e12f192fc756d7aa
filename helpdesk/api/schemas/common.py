"""Types and models shared by every part of the API."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

DB_INT_MAX = 2**31 - 1


def _clean_str(value: str) -> str:
    # NUL and lone surrogates cannot be stored (PostgreSQL refuses them): say so as a 422.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains characters that are not valid Unicode") from None
    return value.replace("\x00", "")


def _as_utc(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _to_naive_utc(value: datetime) -> datetime:
    """Stored timestamps are naive UTC; a naive input is taken to be UTC."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValueError("is out of range") from None


Str = Annotated[str, AfterValidator(_clean_str)]
DbId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
# Timestamps go out as RFC 3339 in UTC ("…Z"); stored ones are naive UTC.
Timestamp = Annotated[datetime, BeforeValidator(_as_utc)]
InputTimestamp = Annotated[datetime, AfterValidator(_to_naive_utc)]


def limit_field():
    return Field(25, ge=1, le=100, description="Items per page (at most 100).")


def cursor_field():
    return Field(None, max_length=200, description="`next_cursor` of the previous page.")


class Model(BaseModel):
    """Base for responses."""

    model_config = ConfigDict(from_attributes=True)


class RequestModel(BaseModel):
    """Base for request bodies: unknown fields are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class QueryModel(BaseModel):
    """Base for query strings: unknown parameters are ignored (caches add their own)."""

    model_config = ConfigDict(extra="ignore")


class ErrorDetail(Model):
    code: str = Field(description="A stable word: not_found, invalid, conflict, …")
    message: str = Field(description="What went wrong, for a person to read.")
    fields: dict[str, str] = Field(
        default_factory=dict, description="Per-field messages, keyed by field name."
    )


class Error(Model):
    """Every error answer has this shape."""

    error: ErrorDetail


class UserRef(Model):
    id: int
    name: str


class TeamRef(Model):
    id: int
    name: str


class OrganizationRef(Model):
    id: int
    name: str


class ContactRef(Model):
    id: int
    name: str
    email: str | None = Field(description="The contact's primary address.")
