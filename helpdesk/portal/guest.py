"""Signed ticket links (/t/<token>): one ticket, read and reply, without a password.

The token decides everything: `helpdesk.tickets.links.open_link` gives the ticket and acts as
its requester, and raises NotFound for a tampered, expired or revoked link, which becomes one
plain "invalid link" page. When the link is authentic but expired or revoked, that page also
offers to mail a fresh link, to an address of the ticket only.
"""

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import get_locale

from helpdesk.errors import DomainError, NotFound
from helpdesk.extensions import db
from helpdesk.portal import bp, conversation, messages
from helpdesk.portal.forms import FreshLinkForm
from helpdesk.portal.limits import per_address, per_ip, per_link
from helpdesk.settings import get_setting
from helpdesk.tickets.links import (
    LinkAccess,
    linked_ticket,
    make_link_token,
    open_link,
    request_fresh_link,
)
from helpdesk.tickets.services import follow_merges, get_ticket
from helpdesk.tickets.states import Status
from helpdesk.validation import EMAIL_MAX

FRESH_SENT_TO = "portal_fresh_link_sent_to"  # the address, for the "check your mail" page


def _urls(token: str) -> conversation.TicketUrls:
    return conversation.TicketUrls(
        page=url_for("portal.link", token=token),
        reply=url_for("portal.link_reply", token=token),
        solve=url_for("portal.link_solve", token=token),
        reopen=url_for("portal.link_reopen", token=token),
        attachment=lambda a: url_for(
            "portal.link_attachment", token=token, attachment_id=a.id, filename=a.filename
        ),
        other=lambda t: url_for("portal.link", token=make_link_token(t)),
        signed_link=True,
    )


def _access(token: str) -> LinkAccess | None:
    try:
        access = open_link(token)
    except NotFound:
        return None
    g.link_user = access.actor.contact.user if access.actor.contact else None
    return access


def invalid_ticket_link(token: str, form: FreshLinkForm | None = None, errors=None, status=404):
    """The "this link does not work" page; for an authentic old link, with the fresh-link form
    (nothing on it tells which ticket the link was for)."""
    if linked_ticket(token) is not None:
        form = form or FreshLinkForm()
    page = render_template(
        "portal/link_invalid.html",
        kind="ticket",
        fresh_form=form,
        fresh_action=url_for("portal.link_fresh", token=token),
        errors=errors or {},
        email_max=EMAIL_MAX,
    )
    return page, status


def _invalid():
    return invalid_ticket_link((request.view_args or {}).get("token", ""))


@bp.route("/t/<token>")
def link(token: str):
    access = _access(token)
    if access is None:
        return _invalid()
    ticket = follow_merges(access.ticket)
    if ticket.id != access.ticket.id:  # merged: show where the conversation went
        ticket = get_ticket(access.actor, ticket.number)
        return conversation.render_ticket(
            ticket, access.actor, _urls(make_link_token(ticket)), status=200
        )
    return conversation.render_ticket(ticket, access.actor, _urls(token))


@bp.route("/t/<token>/reply", methods=["POST"])
@per_ip("HELPDESK_REPLY_RATE_LIMIT")
@per_link("HELPDESK_REPLY_RATE_LIMIT")
def link_reply(token: str):
    access = _access(token)
    if access is None:
        return _invalid()
    return conversation.reply(access.ticket, access.actor, _urls(token))


@bp.route("/t/<token>/solve", methods=["POST"])
def link_solve(token: str):
    access = _access(token)
    if access is None:
        return _invalid()
    return conversation.set_status(access.ticket, access.actor, _urls(token), Status.RESOLVED)


@bp.route("/t/<token>/reopen", methods=["POST"])
def link_reopen(token: str):
    access = _access(token)
    if access is None:
        return _invalid()
    return conversation.set_status(access.ticket, access.actor, _urls(token), Status.OPEN)


@bp.route("/t/<token>/attachments/<int:attachment_id>/<path:filename>")
def link_attachment(token: str, attachment_id: int, filename: str):
    access = _access(token)
    if access is None:
        return _invalid()
    return conversation.send_attachment(access.ticket, attachment_id)


@bp.route("/t/<token>/fresh", methods=["POST"])
@per_ip("HELPDESK_RESET_RATE_LIMIT")
@per_address("HELPDESK_RESET_RATE_LIMIT")
@per_link("HELPDESK_RESET_RATE_LIMIT")
def link_fresh(token: str):
    """Mail a fresh link if the address is one of the ticket's; the same answer either way."""
    if linked_ticket(token) is None:
        return invalid_ticket_link(token)
    form = FreshLinkForm()
    if not form.validate_on_submit():
        return invalid_ticket_link(token, form, status=400)
    try:
        address = request_fresh_link(token, form.email.data, str(get_locale()))
    except DomainError as exc:
        db.session.rollback()
        return invalid_ticket_link(token, form, messages.field_errors(exc), status=400)
    db.session.commit()
    session[FRESH_SENT_TO] = address
    return redirect(url_for("portal.link_sent"))


@bp.route("/t/sent")
def link_sent():
    address = session.get(FRESH_SENT_TO)
    days = get_setting("link_days")
    return render_template("portal/mail_sent.html", kind="link", address=address, link_days=days)
