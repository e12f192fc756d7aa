"""Canned responses: reusable replies with the customer's name and the ticket number filled in."""

import re

from sqlalchemy import or_, select

from helpdesk.accounts.actor import Actor
from helpdesk.errors import NotFound, PermissionDenied
from helpdesk.extensions import db
from helpdesk.tickets.console_models import CannedResponse
from helpdesk.tickets.models import Ticket
from helpdesk.validation import clean_body, clean_name

# Plain substitution, never a template engine: a canned text cannot run code.
_PLACEHOLDER = re.compile(r"\{\{\s*(customer_name|ticket_number|agent_name)\s*\}\}")


def canned_for(actor: Actor) -> list[CannedResponse]:
    """The responses the agent may use: everyone's and their own."""
    if not actor.is_staff:
        return []
    stmt = (
        select(CannedResponse)
        .where(
            CannedResponse.active.is_(True),
            or_(CannedResponse.owner_id.is_(None), CannedResponse.owner_id == actor.user.id),
        )
        .order_by(CannedResponse.title)
    )
    return list(db.session.execute(stmt).scalars())


def get_canned(actor: Actor, canned_id: int) -> CannedResponse:
    found = next((c for c in canned_for(actor) if c.id == canned_id), None)
    if found is None:
        raise NotFound("There is no such canned response.")
    return found


def create_canned_response(
    actor: Actor, *, title: str, body: str, personal: bool = False
) -> CannedResponse:
    """A new response; shared ones are for admins to make, personal ones for any agent."""
    if not actor.is_staff or (not personal and not actor.is_admin):
        raise PermissionDenied("Only administrators create shared canned responses.")
    canned = CannedResponse(
        title=clean_name(title, "title")[:100],
        body=clean_body(body),
        owner_id=actor.user.id if personal else None,
        active=True,
    )
    db.session.add(canned)
    db.session.flush()
    return canned


def fill_in(canned: CannedResponse, ticket: Ticket, actor: Actor) -> str:
    """The response's text for this ticket: {{customer_name}}, {{ticket_number}} (digits
    only) and {{agent_name}} replaced."""
    values = {
        "customer_name": ticket.requester.name,
        "ticket_number": str(ticket.number),
        "agent_name": actor.user.name if actor.user else "",
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], canned.body)
