"""Signed ticket links: open one ticket without a password, as its requester.

A link is stateless: it carries the ticket number and the ticket's `link_epoch`, signed with the
app's secret and stamped with the time it was made. It stops working when it is older than the
`link_days` setting, or when an agent bumps the epoch (`revoke_links`). Whoever holds such a
dead link may ask for a fresh one, which is mailed only to the ticket's requester or participants
(`request_fresh_link`).
"""

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from helpdesk import audit, outbox
from helpdesk.accounts.actor import Actor
from helpdesk.errors import NotFound, PermissionDenied
from helpdesk.extensions import db
from helpdesk.i18n import N_
from helpdesk.settings import get_setting
from helpdesk.tickets import permissions
from helpdesk.tickets.models import Ticket
from helpdesk.validation import clean_email

SALT = "helpdesk.ticket-link"
INVALID = N_("This link is invalid or has expired.")
MAIL_FRESH_LINK = "mail.ticket_link"


@dataclass(frozen=True)
class LinkAccess:
    """What a valid link grants: this ticket, acting as this actor."""

    ticket: Ticket
    actor: Actor


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_link_token(ticket: Ticket) -> str:
    return _serializer().dumps({"n": ticket.number, "e": ticket.link_epoch})


def ticket_link_url(ticket: Ticket) -> str:
    """The absolute link for mails (HELPDESK_BASE_URL + /t/<token>)."""
    return f"{current_app.config['HELPDESK_BASE_URL']}/t/{make_link_token(ticket)}"


def open_link(token: str) -> LinkAccess:
    """The ticket a link opens and the requester it acts as. Raises NotFound for a tampered,
    expired or revoked link, the same way for each, so a link reveals nothing."""
    max_age = get_setting("link_days") * 86400
    try:
        data = _serializer().loads(token, max_age=max_age)
        number, epoch = int(data["n"]), int(data["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound(INVALID) from None
    ticket = db.session.execute(select(Ticket).where(Ticket.number == number)).scalar_one_or_none()
    if ticket is None or ticket.link_epoch != epoch:
        raise NotFound(INVALID)
    actor = Actor.for_contact(ticket.requester)
    if not permissions.can_view_ticket(actor, ticket):
        raise NotFound(INVALID)
    return LinkAccess(ticket, actor)


def revoke_links(ticket: Ticket, actor: Actor) -> int:
    """Invalidate every link to the ticket made so far (agents only); returns the new epoch."""
    if not permissions.can_view_ticket(actor, ticket):
        raise NotFound("There is no ticket #%(number)s.", number=ticket.number)
    if not permissions.can_work_ticket(actor, ticket):
        raise PermissionDenied("Only agents can revoke a ticket's links.")
    ticket.link_epoch += 1
    audit.record(
        actor, "links_revoked", ticket.link_epoch - 1, ticket.link_epoch, ticket_id=ticket.id
    )
    db.session.flush()
    return ticket.link_epoch


def linked_ticket(token: str) -> Ticket | None:
    """The ticket an authentic link was made for, however old or revoked; None for a
    tampered one. Grants nothing: it only lets the holder ask for a fresh link."""
    try:
        number = int(_serializer().loads(token)["n"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return db.session.execute(select(Ticket).where(Ticket.number == number)).scalar_one_or_none()


def _recipients(ticket: Ticket) -> set[str]:
    """The addresses the ticket's mails go to: its requester's and its participants'."""
    contacts = [ticket.requester, *(p.contact for p in ticket.participants)]
    addresses = {entry.email for contact in contacts if contact for entry in contact.emails}
    if ticket.requester is not None and ticket.requester.user is not None:
        addresses.add(ticket.requester.user.email)
    return addresses


def request_fresh_link(token: str, email: str, locale: str | None = None) -> str:
    """Mail a fresh link to the ticket of an old `token` if `email` is one its mails go to;
    the same answer either way, so it reveals nothing. Returns the address. Raises NotFound
    for a tampered link, ValidationError for a malformed address."""
    address = clean_email(email)
    ticket = linked_ticket(token)
    if ticket is None:
        raise NotFound(INVALID)
    if address in _recipients(ticket):
        payload = {"ticket_id": ticket.id, "email": address, "locale": locale}
        outbox.enqueue(MAIL_FRESH_LINK, payload)
    return address
