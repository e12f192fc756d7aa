"""Webhook endpoints and their deliveries (admins only)."""

from flask import url_for
from sqlalchemy import select

from helpdesk.api import cursors, serialize
from helpdesk.api.auth import api_actor
from helpdesk.api.openapi import EXTRA_MODELS
from helpdesk.api.routing import operation
from helpdesk.api.schemas import webhooks as s
from helpdesk.errors import NotFound
from helpdesk.extensions import db
from helpdesk.webhooks import services
from helpdesk.webhooks.models import WebhookDelivery

TAG = "Webhooks"
EXTRA_MODELS.append(s.WebhookPayload)  # the body of every delivery, in components/schemas


@operation(
    "GET",
    "/webhooks",
    summary="List webhooks",
    tag=TAG,
    responses={200: s.WebhookList},
    errors=(403,),
)
def list_webhooks():
    """Admins only."""
    endpoints = services.list_endpoints(api_actor())
    return s.WebhookList(items=[serialize.webhook(e) for e in endpoints])


@operation(
    "POST",
    "/webhooks",
    summary="Register a webhook",
    tag=TAG,
    body=s.WebhookCreate,
    responses={201: s.WebhookCreated},
    response_headers={"Location": "The webhook's URL."},
    errors=(403,),
)
def create_webhook(body: s.WebhookCreate):
    """Admins only. The answer carries the signing secret; it is not shown again."""
    endpoint, secret = services.create_endpoint(
        api_actor(),
        url=body.url,
        events=[str(e) for e in body.events],
        secret=body.secret,
        description=body.description,
        active=body.active,
    )
    created = s.WebhookCreated(**serialize.webhook(endpoint).model_dump(), secret=secret)
    return created, 201, {"Location": url_for("api.get_webhook", webhook_id=endpoint.id)}


@operation(
    "GET",
    "/webhooks/<dbid:webhook_id>",
    summary="Read a webhook",
    tag=TAG,
    responses={200: s.Webhook},
    errors=(403,),
)
def get_webhook(webhook_id: int):
    """Admins only."""
    return serialize.webhook(services.get_endpoint(api_actor(), webhook_id))


@operation(
    "PATCH",
    "/webhooks/<dbid:webhook_id>",
    summary="Change, pause or resume a webhook",
    tag=TAG,
    body=s.WebhookUpdate,
    responses={200: s.Webhook},
    errors=(403,),
)
def update_webhook(webhook_id: int, body: s.WebhookUpdate):
    """Admins only. `active: true` resumes a paused endpoint and clears its failure count."""
    actor = api_actor()
    endpoint = services.get_endpoint(actor, webhook_id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if "events" in changes:
        changes["events"] = [str(e) for e in body.events]
    services.update_endpoint(actor, endpoint, changes)
    return serialize.webhook(endpoint)


@operation(
    "DELETE",
    "/webhooks/<dbid:webhook_id>",
    summary="Delete a webhook",
    tag=TAG,
    responses={204: None},
    errors=(403,),
)
def delete_webhook(webhook_id: int):
    """Admins only. Its delivery log goes with it."""
    actor = api_actor()
    services.delete_endpoint(actor, services.get_endpoint(actor, webhook_id))
    return None, 204


@operation(
    "GET",
    "/webhooks/<dbid:webhook_id>/deliveries",
    summary="List a webhook's deliveries",
    tag=TAG,
    query=s.DeliveryQuery,
    responses={200: s.DeliveryList},
    errors=(403,),
)
def list_deliveries(webhook_id: int, query: s.DeliveryQuery):
    """Admins only. Newest first."""
    endpoint = services.get_endpoint(api_actor(), webhook_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if query.cursor:
        stmt = stmt.where(WebhookDelivery.id < cursors.decode_id(query.cursor))
    stmt = stmt.order_by(WebhookDelivery.id.desc()).limit(query.limit + 1)
    rows = list(db.session.execute(stmt).scalars())
    next_cursor = cursors.encode(rows[query.limit - 1].id) if len(rows) > query.limit else None
    items = [serialize.delivery(d) for d in rows[: query.limit]]
    return s.DeliveryList(items=items, next_cursor=next_cursor)


@operation(
    "POST",
    "/webhooks/<dbid:webhook_id>/deliveries/<dbid:delivery_id>/resend",
    summary="Send a delivery again",
    tag=TAG,
    responses={202: s.Delivery},
    errors=(403,),
)
def resend_delivery(webhook_id: int, delivery_id: int):
    """Admins only. The same body, newly signed, sent after this request commits."""
    actor = api_actor()
    endpoint = services.get_endpoint(actor, webhook_id)
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound("There is no such delivery.")
    services.resend_delivery(actor, delivery)
    return serialize.delivery(delivery), 202
