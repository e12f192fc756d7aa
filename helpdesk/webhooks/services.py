"""Registering webhook endpoints, fanning events out to them, and recording deliveries.

Like every service: takes an explicit actor where a person acts, flushes, never commits.
"""

import json
import secrets
from collections.abc import Sequence

from flask import current_app
from sqlalchemy import select

from helpdesk import crypto, outbox
from helpdesk.accounts.actor import Actor
from helpdesk.errors import NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow
from helpdesk.webhooks import EVENTS, targets
from helpdesk.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

DELIVER = "webhook.deliver"
PAUSED_NOTICE = "webhook.paused_notice"
SECRET_MIN, SECRET_MAX = 16, 200
DESCRIPTION_MAX = 200


def max_failures() -> int:
    """Failed attempts in a row after which an endpoint is paused."""
    return int(current_app.config.get("HELPDESK_WEBHOOKS_MAX_FAILURES", 10))


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only admins manage webhooks.")


def _clean_events(names: Sequence[str]) -> str:
    wanted = list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in EVENTS]
    if unknown or not wanted:
        raise ValidationError(
            "Choose one or more of: %(events)s.",
            {"events": "Unknown or empty."},
            events=", ".join(EVENTS),
        )
    return ",".join(wanted)


def _clean_secret(secret: str | None) -> str:
    if secret is None:
        return secrets.token_urlsafe(32)
    if not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise ValidationError(
            "The secret must have %(min)s to %(max)s characters.",
            {"secret": "Wrong length."},
            min=SECRET_MIN,
            max=SECRET_MAX,
        )
    return secret


def _clean_description(value: str | None) -> str | None:
    text = " ".join((value or "").split())
    return text[:DESCRIPTION_MAX] or None


def get_endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    _require_admin(actor)
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound("There is no such webhook.")
    return endpoint


def list_endpoints(actor: Actor) -> list[WebhookEndpoint]:
    _require_admin(actor)
    return list(db.session.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars())


def create_endpoint(
    actor: Actor,
    *,
    url: str,
    events: Sequence[str],
    secret: str | None = None,
    description: str | None = None,
    active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; return it with its signing secret (generated if not given)."""
    _require_admin(actor)
    url = targets.check_url_syntax(url)
    targets.check_target(url)
    secret = _clean_secret(secret)
    endpoint = WebhookEndpoint(
        url=url,
        secret_encrypted=crypto.encrypt(secret),
        events=_clean_events(events),
        description=_clean_description(description),
        active=active,
        consecutive_failures=0,
        created_by_id=actor.user.id if actor.user else None,
        created_at=utcnow(),
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def update_endpoint(actor: Actor, endpoint: WebhookEndpoint, changes: dict) -> None:
    """Change url, events, description or active; resuming clears the failure count."""
    _require_admin(actor)
    if "url" in changes:
        url = targets.check_url_syntax(changes["url"])
        targets.check_target(url)
        endpoint.url = url
    if "events" in changes:
        endpoint.events = _clean_events(changes["events"])
    if "description" in changes:
        endpoint.description = _clean_description(changes["description"])
    if "active" in changes and bool(changes["active"]) != endpoint.active:
        endpoint.active = bool(changes["active"])
        endpoint.consecutive_failures = 0
        endpoint.paused_reason = None if endpoint.active else "Paused by an admin."
    db.session.flush()


def delete_endpoint(actor: Actor, endpoint: WebhookEndpoint) -> None:
    _require_admin(actor)
    db.session.delete(endpoint)
    db.session.flush()


def queue_delivery(delivery: WebhookDelivery) -> None:
    """Hand the delivery to the outbox; it is sent after the commit."""
    item = outbox.enqueue(DELIVER, {"delivery_id": delivery.id})
    delivery.outbox_item_id = item.id


def subscribed_endpoints(event: str) -> list[WebhookEndpoint]:
    active = db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True)).order_by(WebhookEndpoint.id)
    ).scalars()
    return [endpoint for endpoint in active if event in endpoint.event_names]


def fan_out(endpoints: Sequence[WebhookEndpoint], event: str, body: dict) -> None:
    """One delivery per endpoint, each sent (and retried) on its own after the commit."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    for endpoint in endpoints:
        delivery = WebhookDelivery(
            endpoint=endpoint,
            event=event,
            body=text,
            status=DeliveryStatus.PENDING,
            attempts=0,
            created_at=utcnow(),
        )
        db.session.add(delivery)
        db.session.flush()
        queue_delivery(delivery)


def resend_delivery(actor: Actor, delivery: WebhookDelivery) -> None:
    """Send a delivery again, whatever became of it (the body is the same, newly signed)."""
    _require_admin(actor)
    delivery.status = DeliveryStatus.PENDING
    delivery.error = None
    queue_delivery(delivery)
    db.session.flush()


def record_attempt(
    delivery: WebhookDelivery, *, status_code: int | None, error: str | None, last: bool
) -> bool:
    """Log one attempt; on failure count it against the endpoint (pausing it at the limit).
    Return True when the attempt succeeded."""
    endpoint = delivery.endpoint
    delivery.attempts += 1
    delivery.last_attempt_at = utcnow()
    delivery.response_code = status_code
    delivery.error = error[:500] if error else None
    if error is None:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = delivery.last_attempt_at
        endpoint.consecutive_failures = 0
        db.session.flush()
        return True
    if last:
        delivery.status = DeliveryStatus.FAILED
    endpoint.consecutive_failures += 1
    if endpoint.active and endpoint.consecutive_failures >= max_failures():
        endpoint.active = False
        endpoint.paused_reason = (
            f"Paused after {endpoint.consecutive_failures} failed attempts in a row."
        )
        outbox.enqueue(PAUSED_NOTICE, {"endpoint_id": endpoint.id})
    db.session.flush()
    return False


def skip_paused(delivery: WebhookDelivery) -> None:
    delivery.status = DeliveryStatus.FAILED
    delivery.error = "Not sent: the endpoint is paused."
    db.session.flush()
