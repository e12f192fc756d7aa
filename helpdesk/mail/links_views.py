"""The "this is not solved" page that a resolved-ticket mail links to.

Mail clients and link scanners open links on their own, so opening the link (GET) changes
nothing: it shows a confirmation page whose button (POST) reopens the ticket, with an optional
word on what is still wrong. The token is the ticket's signed portal link
(helpdesk.tickets.links): it acts as the requester, and expires or is revoked like that link.
"""

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _

from helpdesk.errors import DomainError, NotFound
from helpdesk.extensions import db
from helpdesk.portal import messages
from helpdesk.portal.guest import invalid_ticket_link
from helpdesk.settings import get_setting
from helpdesk.tickets.links import LinkAccess, open_link
from helpdesk.tickets.models import Channel
from helpdesk.tickets.services import add_reply, change_status
from helpdesk.tickets.states import Status, within_reopen_window
from helpdesk.timeutil import utcnow

bp = Blueprint("mail_links", __name__)


def _access(token: str) -> LinkAccess | None:
    try:
        access = open_link(token)
    except NotFound:
        return None
    g.link_user = access.actor.contact.user if access.actor.contact else None  # its language
    return access


def _state(access: LinkAccess) -> str:
    """ "reopen" (the button), "late" (a new request instead), "open" or "closed"."""
    ticket = access.ticket
    if ticket.status == Status.CLOSED:
        return "closed"
    if ticket.status != Status.RESOLVED:
        return "open"
    if within_reopen_window(ticket.resolved_at, utcnow(), get_setting("reopen_days")):
        return "reopen"
    return "late"


def _page(access: LinkAccess, token: str, status: int = 200, **extra):
    page = render_template(
        "mail/pages/not_solved.html",
        ticket=access.ticket,
        state=_state(access),
        token=token,
        reopen_days=get_setting("reopen_days"),
        **extra,
    )
    return page, status


def _invalid(token: str):
    return invalid_ticket_link(token)  # with the fresh-link form for an old, authentic link


@bp.get("/not-solved/<token>")
def not_solved(token: str):
    """Ask before reopening: a GET never changes anything."""
    access = _access(token)
    if access is None:
        return _invalid(token)
    return _page(access, token)


@bp.post("/not-solved/<token>")
def reopen(token: str):
    """Reopen the resolved ticket (or, after the reopen window, start a linked new one)."""
    access = _access(token)
    if access is None:
        return _invalid(token)
    state = _state(access)
    comment = (request.form.get("comment") or "").strip()
    if state in ("open", "closed") or (state == "late" and not comment):
        return _page(access, token, 400 if state == "late" else 200)
    try:
        if comment:
            message = add_reply(access.ticket, access.actor, body=comment, channel=Channel.PORTAL)
        else:
            change_status(access.ticket, access.actor, Status.OPEN)
            message = None
    except DomainError as exc:
        db.session.rollback()
        return _page(access, token, 400, error=messages.for_customer(exc))
    db.session.commit()
    new = message.ticket if message is not None and message.ticket_id != access.ticket.id else None
    done = (
        _("A new request, %(number)s, was opened for you.", number=new.reference)
        if new
        else (_("The request is open again. We will get back to you."))
    )
    return render_template(
        "mail/pages/not_solved.html", ticket=access.ticket, state="done", done=done, token=token
    )
