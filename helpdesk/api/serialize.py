"""Domain objects to response models (the API's and the webhooks' view of them)."""

import json

from helpdesk.api.schemas import contacts as cs
from helpdesk.api.schemas import tickets as ts
from helpdesk.api.schemas import webhooks as ws
from helpdesk.api.schemas.common import ContactRef, OrganizationRef, TeamRef, UserRef

API_PREFIX = "/api/v1"


def _ref(model, obj):
    return None if obj is None else model(id=obj.id, name=obj.name)


def ticket(ticket) -> ts.Ticket:
    requester = ticket.requester
    return ts.Ticket(
        number=ticket.number,
        subject=ticket.subject,
        status=ticket.status,
        priority=ticket.priority,
        channel=ticket.channel,
        requester=ContactRef(id=requester.id, name=requester.name, email=requester.primary_email),
        organization=_ref(OrganizationRef, ticket.organization),
        assignee=_ref(UserRef, ticket.assignee),
        team=_ref(TeamRef, ticket.team),
        tags=[tag.name for tag in ticket.tags],
        merged_into=ticket.merged_into.number if ticket.merged_into else None,
        follow_up_of=ticket.follow_up_of.number if ticket.follow_up_of else None,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        version=ticket.version,
    )


def attachment_url(number: int, attachment_id: int) -> str:
    return f"{API_PREFIX}/tickets/{number}/attachments/{attachment_id}"


def _author(message) -> ts.Author:
    """Agents as users; customers as contacts, with an account or without."""
    user, contact = message.author_user, message.author_contact
    if user is not None and (user.is_staff or contact is None):
        return ts.Author(type="user", id=user.id, name=user.name)
    if contact is not None:
        return ts.Author(type="contact", id=contact.id, name=contact.name)
    return ts.Author(type="system", id=None, name="System")


def message(message) -> ts.Message:
    number = message.ticket.number
    return ts.Message(
        id=message.id,
        ticket_number=number,
        kind=message.kind,
        channel=message.channel,
        author=_author(message),
        body_text=message.body_text,
        body_html=message.body_html,
        created_at=message.created_at,
        attachments=[
            ts.Attachment(
                id=a.id,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                inline=a.inline,
                url=attachment_url(number, a.id),
            )
            for a in message.attachments
        ],
    )


def contact(contact) -> cs.Contact:
    return cs.Contact(
        id=contact.id,
        name=contact.name,
        emails=[entry.email for entry in contact.emails],
        phones=[entry.phone for entry in contact.phones],
        organization=_ref(OrganizationRef, contact.organization),
        crm=contact.crm,
        external_id=contact.external_id,
        has_account=contact.user is not None,
        created_at=contact.created_at,
    )


def organization(org) -> cs.Organization:
    return cs.Organization(
        id=org.id,
        name=org.name,
        domains=sorted(entry.domain for entry in org.domains),
        notes=org.notes,
        crm=org.crm,
        external_id=org.external_id,
        created_at=org.created_at,
    )


def webhook(endpoint) -> ws.Webhook:
    return ws.Webhook(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.event_names,
        description=endpoint.description,
        active=endpoint.active,
        consecutive_failures=endpoint.consecutive_failures,
        paused_reason=endpoint.paused_reason,
        created_at=endpoint.created_at,
    )


def delivery(delivery) -> ws.Delivery:
    return ws.Delivery(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event=delivery.event,
        status=delivery.status,
        attempts=delivery.attempts,
        response_code=delivery.response_code,
        error=delivery.error,
        created_at=delivery.created_at,
        last_attempt_at=delivery.last_attempt_at,
        delivered_at=delivery.delivered_at,
        payload=json.loads(delivery.body),
    )
