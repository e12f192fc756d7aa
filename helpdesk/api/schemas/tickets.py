"""Tickets, messages and attachments: requests and responses."""

from typing import Literal

from pydantic import Field

from helpdesk.api.schemas.common import (
    DB_INT_MAX,
    ContactRef,
    InputTimestamp,
    Model,
    OrganizationRef,
    QueryModel,
    RequestModel,
    Str,
    TeamRef,
    Timestamp,
    UserRef,
    cursor_field,
    limit_field,
)
from helpdesk.tickets.models import Channel, MessageKind, Priority
from helpdesk.tickets.search import CANDIDATES, QUERY_MAX
from helpdesk.tickets.states import Status
from helpdesk.validation import BODY_MAX, EMAIL_MAX, NAME_MAX, SUBJECT_MAX


class Ticket(Model):
    number: int = Field(description="Shown to people as #number.")
    subject: str
    status: Status
    priority: Priority
    channel: Channel
    requester: ContactRef
    organization: OrganizationRef | None
    assignee: UserRef | None
    team: TeamRef | None
    tags: list[str]
    merged_into: int | None = Field(description="Number of the ticket this one was merged into.")
    follow_up_of: int | None = Field(description="Number of the closed ticket this follows up.")
    created_at: Timestamp
    updated_at: Timestamp
    first_response_at: Timestamp | None
    resolved_at: Timestamp | None
    closed_at: Timestamp | None
    version: int = Field(description="Grows with every change; the ETag is derived from it.")


class TicketList(Model):
    items: list[Ticket]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class TicketQuery(QueryModel):
    status: list[Status] | None = Field(None, description="Any of these statuses (repeatable).")
    priority: list[Priority] | None = Field(None, description="Any of these priorities.")
    assignee: Str | None = Field(
        None, max_length=EMAIL_MAX, description="A user id, an e-mail address, `me` or `none`."
    )
    team: Str | None = Field(None, max_length=NAME_MAX, description="A team id, name, or `none`.")
    requester: Str | None = Field(
        None, max_length=EMAIL_MAX, description="A contact id or an e-mail address."
    )
    organization: int | None = Field(None, ge=1, le=DB_INT_MAX, description="Organization id.")
    tag: list[Str] | None = Field(None, description="Tickets with all of these tags.")
    updated_since: InputTimestamp | None = Field(
        None, description="Changed at or after this time (RFC 3339; UTC when no offset)."
    )
    q: Str | None = Field(
        None,
        min_length=1,
        max_length=QUERY_MAX,
        description=(
            "Full-text search, the same as the console's: words in the subject, the requester's"
            ' name or address, or the messages (internal notes for agents only); "phrases",'
            " -excluded, OR and prefix* work. It narrows the list to at most the best-ranked"
            f" {CANDIDATES} matches, which keep the list's order (most recently updated first),"
            " so `cursor` pages through them as through any list. A `q` with no word to look"
            " for (only punctuation or excluded words) is refused with 422."
        ),
    )
    cursor: Str | None = cursor_field()
    limit: int = limit_field()


class TicketCreate(RequestModel):
    subject: Str = Field(max_length=SUBJECT_MAX * 4)
    body: Str = Field(max_length=BODY_MAX * 2, description="Plain text of the first message.")
    html: Str | None = Field(None, max_length=BODY_MAX * 4, description="Optional HTML version.")
    requester_email: Str | None = Field(
        None,
        max_length=EMAIL_MAX,
        description="Agents: who the ticket is for (the contact is created if new). "
        "Customers: leave out, or give one of their own addresses.",
    )
    requester_name: Str | None = Field(None, max_length=NAME_MAX)
    priority: Priority | None = Field(None, description="Agents only.")
    team: int | Str | None = Field(None, description="Agents only: a team id or name.")
    assignee: int | Str | None = Field(
        None, description="Agents only: a user id, an e-mail address, or `me`."
    )
    tags: list[Str] | None = Field(None, max_length=20, description="Agents only.")


class TicketUpdate(RequestModel):
    """Only the fields given change; the same rules as in the console apply."""

    status: Status | None = Field(None, description="Null leaves it unchanged.")
    priority: Priority | None = Field(None, description="Agents only; null leaves it unchanged.")
    assignee: int | Str | None = Field(
        None, description="Agents only: a user id, an e-mail address or `me`; null unassigns."
    )
    team: int | Str | None = Field(
        None, description="Agents only: a team id or name; null removes the team."
    )
    tags: list[Str] | None = Field(
        None, max_length=20, description="Agents only: the full new set of tags."
    )


class TicketMerge(RequestModel):
    into: int = Field(ge=1, le=DB_INT_MAX, description="Number of the ticket to merge into.")


class Attachment(Model):
    id: int
    filename: str
    content_type: str
    size: int = Field(description="Bytes.")
    inline: bool
    url: str = Field(description="Where to download it (with the same token).")


class Author(Model):
    type: Literal["user", "contact", "system"]
    id: int | None
    name: str


class Message(Model):
    id: int
    ticket_number: int
    kind: MessageKind = Field(
        description="reply: public; note: agents only; event: a history line."
    )
    channel: Channel
    author: Author
    body_text: str
    body_html: str | None = Field(description="Sanitized HTML, when the message had some.")
    created_at: Timestamp
    attachments: list[Attachment]


class MessageList(Model):
    items: list[Message]
    next_cursor: str | None


class MessageQuery(QueryModel):
    cursor: Str | None = cursor_field()
    limit: int = limit_field()


class MessageCreate(RequestModel):
    body: Str = Field(max_length=BODY_MAX * 2)
    html: Str | None = Field(None, max_length=BODY_MAX * 4)
    kind: Literal["reply", "note"] = Field(
        "reply", description="reply: public, the customer sees it; note: internal, agents only."
    )
