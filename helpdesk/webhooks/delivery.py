"""Outbox handlers: fan an event out to endpoints, send one delivery, tell admins of a pause.

Each delivery is its own outbox item, so one slow or broken endpoint never holds up another,
and the outbox's back-off does the retrying.
"""

import logging
import time

import requests
from flask import current_app
from sqlalchemy import select

from helpdesk import crypto, events
from helpdesk.accounts.models import Role, User
from helpdesk.api import serialize
from helpdesk.api.schemas.webhooks import WebhookPayload
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.mail.sending import send_mail
from helpdesk.outbox.models import OutboxItem
from helpdesk.outbox.runner import BACKOFF, handler
from helpdesk.tickets.models import Message, Ticket
from helpdesk.timeutil import utcnow
from helpdesk.webhooks import EVENTS, services, targets
from helpdesk.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from helpdesk.webhooks.signing import sign

log = logging.getLogger(__name__)

FANOUT = "webhook.fanout"
for _event in EVENTS:
    events.subscribe(_event, FANOUT)


class DeliveryFailed(Exception):
    """The endpoint did not accept the delivery; the outbox retries it."""


def _payload_body(payload: dict) -> dict | None:
    ticket = db.session.get(Ticket, payload["ticket_id"])
    if ticket is None:
        return None
    message_id = payload.get("message_id")
    message = db.session.get(Message, message_id) if message_id else None
    changes = {k: v for k, v in payload.items() if k not in ("event", "ticket_id", "message_id")}
    body = WebhookPayload(
        event=payload["event"],
        occurred_at=utcnow(),
        ticket=serialize.ticket(ticket),
        message=serialize.message(message) if message is not None else None,
        changes=changes,
    )
    return body.model_dump(mode="json")


@handler(FANOUT)
def fan_out(payload: dict) -> str:
    endpoints = services.subscribed_endpoints(payload["event"])
    if not endpoints:
        return "no endpoint subscribed"
    body = _payload_body(payload)
    if body is None:
        return "ticket gone"
    services.fan_out(endpoints, payload["event"], body)
    return f"{len(endpoints)} deliveries"


def _timeout() -> float:
    return float(current_app.config.get("HELPDESK_WEBHOOKS_TIMEOUT", 5))


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
    """Send once; return the HTTP status (if any) and an error (None on a 2xx answer)."""
    try:
        targets.check_target(endpoint.url)
        secret = crypto.decrypt(endpoint.secret_encrypted)
    except (ValidationError, ValueError) as exc:
        return None, getattr(exc, "message", None) or str(exc)
    body = delivery.body.encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Helpdesk-Webhooks/1",
        "X-Helpdesk-Event": delivery.event,
        "X-Helpdesk-Delivery": str(delivery.id),
        "X-Helpdesk-Timestamp": timestamp,
        "X-Helpdesk-Signature": sign(secret, timestamp, body),
    }
    # No proxies from the environment and no redirects: the checked address is the one called.
    with requests.Session() as session:
        session.trust_env = False
        try:
            response = session.post(
                endpoint.url,
                data=body,
                headers=headers,
                timeout=_timeout(),
                allow_redirects=False,
                stream=True,
            )
        except requests.RequestException as exc:
            return None, f"{type(exc).__name__}: {exc}"
        response.close()
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _is_last_attempt(delivery: WebhookDelivery) -> bool:
    item = db.session.get(OutboxItem, delivery.outbox_item_id) if delivery.outbox_item_id else None
    return item is None or item.attempts > len(BACKOFF)


@handler(services.DELIVER)
def deliver(payload: dict) -> str:
    delivery = db.session.get(WebhookDelivery, payload["delivery_id"])
    if delivery is None:
        return "delivery gone"
    if delivery.status != DeliveryStatus.PENDING:
        return f"already {delivery.status}"
    endpoint = delivery.endpoint
    if not endpoint.active:
        services.skip_paused(delivery)
        db.session.commit()
        return "not sent: endpoint paused"
    status_code, error = _post(endpoint, delivery)
    log.info(
        "webhook delivery %s (%s) to %s: %s",
        delivery.id,
        delivery.event,
        endpoint.url,
        error or f"HTTP {status_code}",
    )
    ok = services.record_attempt(
        delivery, status_code=status_code, error=error, last=_is_last_attempt(delivery)
    )
    # Commit the log now: raising makes the outbox roll back whatever is left uncommitted.
    db.session.commit()
    if not ok:
        raise DeliveryFailed(f"delivery {delivery.id} to {endpoint.url}: {error}")
    return f"delivered: HTTP {status_code}"


@handler(services.PAUSED_NOTICE)
def tell_admins_of_pause(payload: dict) -> str:
    endpoint = db.session.get(WebhookEndpoint, payload["endpoint_id"])
    if endpoint is None:
        return "endpoint gone"
    admins = list(
        db.session.execute(
            select(User.email).where(User.role == Role.ADMIN, User.active.is_(True))
        ).scalars()
    )
    if not admins:
        return "no admin to tell"
    text = (
        f"The webhook endpoint {endpoint.url} has been paused: {endpoint.paused_reason}\n\n"
        "No more events are sent to it until an admin resumes it (Account → Webhooks, or\n"
        f"PATCH /api/v1/webhooks/{endpoint.id} with active=true). Failed deliveries can be\n"
        "sent again from the same page.\n"
    )
    return send_mail(admins, f"Webhook paused: {endpoint.url}", text)
