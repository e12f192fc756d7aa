"""Contacts and organizations: reading, searching, and upserts from an outside CRM."""

from pydantic import Field

from helpdesk.api.schemas.common import (
    Model,
    OrganizationRef,
    QueryModel,
    RequestModel,
    Str,
    Timestamp,
    cursor_field,
    limit_field,
)
from helpdesk.validation import EMAIL_MAX, NAME_MAX

CRM = Field(
    "api",
    pattern=r"^[a-z0-9][a-z0-9_.-]{0,49}$",
    description="Which CRM the external id belongs to; the record is keyed by (crm, external_id).",
)


class Contact(Model):
    id: int
    name: str
    emails: list[str] = Field(description="The first is the primary address.")
    phones: list[str]
    organization: OrganizationRef | None
    crm: str | None
    external_id: str | None
    has_account: bool = Field(description="Whether the contact can sign in to the portal.")
    created_at: Timestamp


class ContactList(Model):
    items: list[Contact]
    next_cursor: str | None


class ContactQuery(QueryModel):
    email: Str | None = Field(None, max_length=EMAIL_MAX, description="Exact address.")
    q: Str | None = Field(
        None, min_length=1, max_length=200, description="Part of the name or an address."
    )
    cursor: Str | None = cursor_field()
    limit: int = limit_field()


class ContactUpsert(RequestModel):
    name: Str = Field(max_length=NAME_MAX * 2)
    crm: str = CRM
    emails: list[Str] = Field(
        default_factory=list,
        max_length=20,
        description="Added to the contact; addresses are never removed (they identify past mail).",
    )
    phones: list[Str] | None = Field(
        None, max_length=20, description="The full list; leave out to keep the current ones."
    )
    organization_external_id: Str | None = Field(
        None,
        max_length=200,
        description="External id (same CRM) of the contact's organization; null removes it.",
    )


class Organization(Model):
    id: int
    name: str
    domains: list[str] = Field(description="Senders from these mail domains belong to it.")
    notes: str | None
    crm: str | None
    external_id: str | None
    created_at: Timestamp


class OrganizationList(Model):
    items: list[Organization]
    next_cursor: str | None


class OrganizationQuery(QueryModel):
    q: Str | None = Field(None, min_length=1, max_length=200, description="Part of the name.")
    cursor: Str | None = cursor_field()
    limit: int = limit_field()


class OrganizationUpsert(RequestModel):
    name: Str = Field(max_length=NAME_MAX * 2)
    crm: str = CRM
    domains: list[Str] | None = Field(
        None, max_length=50, description="The full list; leave out to keep the current ones."
    )
    notes: Str | None = Field(None, max_length=100_000)
