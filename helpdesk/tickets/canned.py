"""Canned responses: reusable replies with the customer's name and the ticket number filled in.

Shared responses (no owner) are everyone's and administrators manage them; a personal one is
its agent's alone. Every change leaves a line in the admin change log."""

import re

from sqlalchemy import or_, select

from helpdesk import audit
from helpdesk.accounts.actor import Actor
from helpdesk.errors import NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets.console_models import CannedResponse
from helpdesk.tickets.models import Ticket
from helpdesk.validation import clean_body, clean_name

TITLE_MAX = 100
PLACEHOLDERS = ("customer_name", "ticket_number", "agent_name")
# What the preview fills in: obviously examples, never a real customer's data.
SAMPLE_VALUES = {"customer_name": "Carol Customer", "ticket_number": "1042", "agent_name": ""}

# Plain substitution, never a template engine: a canned text cannot run code.
_PLACEHOLDER = re.compile(r"\{\{\s*(customer_name|ticket_number|agent_name)\s*\}\}")
_ANY_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


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


def _require_manage(actor: Actor, canned: CannedResponse | None = None, personal=False) -> None:
    shared = canned.owner_id is None if canned is not None else not personal
    if not actor.is_staff:
        raise PermissionDenied("Only agents keep canned responses.")
    if shared and not actor.is_admin:
        raise PermissionDenied("Only administrators manage shared canned responses.")
    if canned is not None and not shared and canned.owner_id != actor.user.id:
        raise NotFound("There is no such canned response.")


def _clean(title: str, body: str) -> tuple[str, str]:
    title = clean_name(title, "title")
    if len(title) > TITLE_MAX:
        raise ValidationError(
            "The title is too long (at most %(max)s characters).",
            {"title": f"At most {TITLE_MAX} characters."},
            max=TITLE_MAX,
        )
    body = clean_body(body)
    unknown = [m.group(1) for m in _ANY_PLACEHOLDER.finditer(body)]
    unknown = [name for name in unknown if name not in PLACEHOLDERS]
    if unknown:
        known = ", ".join("{{" + name + "}}" for name in PLACEHOLDERS)
        raise ValidationError(
            "“{{%(name)s}}” is not a placeholder; use %(known)s.",
            {"body": "Unknown placeholder."},
            name=unknown[0][:40],
            known=known,
        )
    return title, body


def _label(canned: CannedResponse) -> str:
    return canned.title + (" (personal)" if canned.owner_id is not None else "")


def create_canned_response(
    actor: Actor, *, title: str, body: str, personal: bool = False
) -> CannedResponse:
    """A new response; shared ones are for admins to make, personal ones for any agent.
    Raises PermissionDenied, ValidationError."""
    _require_manage(actor, personal=personal)
    title, body = _clean(title, body)
    canned = CannedResponse(
        title=title, body=body, owner_id=actor.user.id if personal else None, active=True
    )
    db.session.add(canned)
    audit.record(actor, "canned.created", None, _label(canned))
    db.session.flush()
    return canned


def manageable_canned(actor: Actor) -> list[CannedResponse]:
    """What the actor may edit: the shared responses (administrators) and their own."""
    if not actor.is_staff:
        return []
    mine = CannedResponse.owner_id == actor.user.id
    where = or_(CannedResponse.owner_id.is_(None), mine) if actor.is_admin else mine
    stmt = select(CannedResponse).where(where).order_by(CannedResponse.title, CannedResponse.id)
    return list(db.session.execute(stmt).scalars())


def find_manageable(actor: Actor, canned_id: int) -> CannedResponse:
    """One response the actor may edit. Raises NotFound."""
    found = next((c for c in manageable_canned(actor) if c.id == canned_id), None)
    if found is None:
        raise NotFound("There is no such canned response.")
    return found


def update_canned_response(
    actor: Actor, canned: CannedResponse, *, title: str, body: str
) -> CannedResponse:
    """Change the title and text. Raises PermissionDenied, NotFound, ValidationError."""
    _require_manage(actor, canned)
    title, body = _clean(title, body)
    if (title, body) != (canned.title, canned.body):
        old = _label(canned) if title != canned.title else None
        canned.title, canned.body = title, body
        audit.record(actor, "canned.changed", old, _label(canned))
        db.session.flush()
    return canned


def delete_canned_response(actor: Actor, canned: CannedResponse) -> None:
    """Remove the response for good (sent replies keep their text)."""
    _require_manage(actor, canned)
    audit.record(actor, "canned.deleted", _label(canned), None)
    db.session.delete(canned)
    db.session.flush()


def _substitute(body: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)


def preview(body: str, agent_name: str = "") -> str:
    """The text with example values where the placeholders are, for the admin page."""
    return _substitute(body, {**SAMPLE_VALUES, "agent_name": agent_name})


def fill_in(canned: CannedResponse, ticket: Ticket, actor: Actor) -> str:
    """The response's text for this ticket: {{customer_name}}, {{ticket_number}} (digits
    only) and {{agent_name}} replaced."""
    values = {
        "customer_name": ticket.requester.name,
        "ticket_number": str(ticket.number),
        "agent_name": actor.user.name if actor.user else "",
    }
    return _substitute(canned.body, values)
