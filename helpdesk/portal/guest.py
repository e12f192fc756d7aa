"""Signed ticket links (/t/<token>): one ticket, read and reply, without a password.

The token decides everything: `helpdesk.tickets.links.open_link` gives the ticket and acts as
its requester, and raises NotFound for a tampered, expired or revoked link, which becomes one
plain "invalid link" page.
"""

from flask import g, render_template, url_for

from helpdesk.errors import NotFound
from helpdesk.portal import bp, conversation
from helpdesk.portal.limits import per_ip, per_link
from helpdesk.tickets.links import LinkAccess, make_link_token, open_link
from helpdesk.tickets.services import follow_merges, get_ticket
from helpdesk.tickets.states import Status


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


def _invalid():
    return render_template("portal/link_invalid.html", kind="ticket"), 404


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
