"""Webhook endpoints, their deliveries, and the body each delivery carries."""

import enum
from typing import Any

from pydantic import Field

from helpdesk.api.schemas.common import (
    Model,
    QueryModel,
    RequestModel,
    Str,
    Timestamp,
    cursor_field,
    limit_field,
)
from helpdesk.api.schemas.tickets import Message, Ticket
from helpdesk.webhooks import EVENTS
from helpdesk.webhooks.models import DeliveryStatus
from helpdesk.webhooks.services import DESCRIPTION_MAX, SECRET_MAX, SECRET_MIN
from helpdesk.webhooks.targets import URL_MAX

WebhookEvent = enum.StrEnum(
    "WebhookEvent", {name.replace(".", "_").upper(): name for name in EVENTS}
)


class Webhook(Model):
    id: int
    url: str
    events: list[WebhookEvent]
    description: str | None
    active: bool = Field(description="False while paused (by an admin, or after failures).")
    consecutive_failures: int
    paused_reason: str | None
    created_at: Timestamp


class WebhookCreated(Webhook):
    secret: str = Field(description="The signing secret. Shown only in this answer.")


class WebhookList(Model):
    items: list[Webhook]


class WebhookCreate(RequestModel):
    url: Str = Field(max_length=URL_MAX, description="An https URL on a public address.")
    events: list[WebhookEvent] = Field(min_length=1)
    secret: Str | None = Field(
        None,
        min_length=SECRET_MIN,
        max_length=SECRET_MAX,
        description="The HMAC key; one is generated when left out.",
    )
    description: Str | None = Field(None, max_length=DESCRIPTION_MAX)
    active: bool = True


class WebhookUpdate(RequestModel):
    url: Str | None = Field(None, max_length=URL_MAX)
    events: list[WebhookEvent] | None = Field(None, min_length=1)
    description: Str | None = Field(None, max_length=DESCRIPTION_MAX)
    active: bool | None = Field(None, description="True resumes a paused endpoint.")


class Delivery(Model):
    id: int
    endpoint_id: int
    event: WebhookEvent
    status: DeliveryStatus
    attempts: int
    response_code: int | None = Field(description="HTTP status of the last attempt.")
    error: str | None = Field(description="Why the last attempt failed.")
    created_at: Timestamp
    last_attempt_at: Timestamp | None
    delivered_at: Timestamp | None
    payload: dict[str, Any] = Field(description="The body sent (see WebhookPayload).")


class DeliveryList(Model):
    items: list[Delivery]
    next_cursor: str | None


class DeliveryQuery(QueryModel):
    cursor: Str | None = cursor_field()
    limit: int = limit_field()


class WebhookPayload(Model):
    """The JSON body of every delivery. Headers: X-Helpdesk-Event, X-Helpdesk-Delivery,
    X-Helpdesk-Timestamp (Unix seconds) and X-Helpdesk-Signature: `sha256=` + hex
    HMAC-SHA256(secret, timestamp + "." + body)."""

    event: WebhookEvent
    occurred_at: Timestamp
    ticket: Ticket = Field(description="The ticket as it was when the event was sent out.")
    message: Message | None = Field(None, description="For ticket.created and message_added.")
    changes: dict[str, Any] = Field(
        default_factory=dict, description="What changed: old and new status, the new assignee…"
    )
