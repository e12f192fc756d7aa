"""One ticket in the portal: the page and its actions, shared by the signed-in pages
(/tickets/<number>) and the signed links (/t/<token>). The caller has already loaded the
ticket through a permission check and says which URLs the page links to."""

from collections.abc import Callable
from dataclasses import dataclass

from flask import abort, flash, g, redirect, render_template, send_file
from flask_babel import gettext as _

from helpdesk import storage
from helpdesk.accounts.actor import Actor
from helpdesk.errors import DomainError, ValidationError
from helpdesk.extensions import db
from helpdesk.portal import messages, queries
from helpdesk.portal.forms import ActionForm, ReplyForm
from helpdesk.portal.uploads import limits, markdown_html, uploads_from_request
from helpdesk.settings import get_setting
from helpdesk.tickets.models import Attachment, Channel, Ticket
from helpdesk.tickets.services import add_reply, change_status
from helpdesk.tickets.states import OPEN_STATUSES, Status, within_reopen_window
from helpdesk.timeutil import utcnow

# Shown inline; anything else is a download. None of these can carry script.
INLINE_IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Declared types kept for downloads; anything else goes out as application/octet-stream.
DOWNLOAD_TYPES = INLINE_IMAGES | {
    "application/pdf",
    "application/zip",
    "text/plain",
    "text/csv",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
}


@dataclass(frozen=True)
class TicketUrls:
    """Where one ticket's page, forms and files live for this kind of visitor."""

    page: str
    reply: str
    solve: str
    reopen: str
    attachment: Callable[[Attachment], str]
    other: Callable[[Ticket], str]  # another ticket (a follow-up) for the same visitor
    signed_link: bool = False  # the visitor came through a signed link, not signed in


def can_reopen(ticket: Ticket) -> bool:
    return ticket.status == Status.RESOLVED and within_reopen_window(
        ticket.resolved_at, utcnow(), get_setting("reopen_days")
    )


def reply_starts_new_ticket(ticket: Ticket) -> bool:
    return ticket.status == Status.CLOSED or (
        ticket.status == Status.RESOLVED and not can_reopen(ticket)
    )


def render_ticket(
    ticket: Ticket,
    actor: Actor,
    urls: TicketUrls,
    form: ReplyForm | None = None,
    errors: dict | None = None,
    status: int = 200,
):
    g.page_url = urls.page
    page = render_template(
        "portal/ticket.html",
        ticket=ticket,
        urls=urls,
        messages=queries.public_messages(ticket),
        timeline=queries.status_timeline(ticket),
        follow_ups=queries.related_tickets(actor, ticket),
        previous=ticket.follow_up_of if ticket.follow_up_of_id else None,
        form=form or ReplyForm(formdata=None),
        action_form=ActionForm(formdata=None),
        errors=errors or {},
        can_solve=ticket.status in OPEN_STATUSES,
        can_reopen=can_reopen(ticket),
        starts_new=reply_starts_new_ticket(ticket),
        reopen_days=get_setting("reopen_days"),
        limits=limits(),
    )
    return page, status


def reply(ticket: Ticket, actor: Actor, urls: TicketUrls):
    """Add the customer's reply; after the reopen window it lands in a new, linked ticket."""
    form = ReplyForm()
    if not form.validate_on_submit():
        return render_ticket(ticket, actor, urls, form, status=400)
    try:
        message = add_reply(
            ticket,
            actor,
            body=form.body.data,
            html=markdown_html(form.body.data),
            channel=Channel.PORTAL,
            uploads=uploads_from_request(),
        )
    except ValidationError as exc:
        db.session.rollback()
        flash(messages.for_customer(exc), "error")
        return render_ticket(ticket, actor, urls, form, messages.field_errors(exc), 400)
    db.session.commit()
    if message.ticket_id != ticket.id:
        new = message.ticket
        flash(
            _(
                "#%(old)s was closed, so your message opened a new request, #%(new)s."
                " It refers to #%(old)s.",
                old=ticket.number,
                new=new.number,
            ),
            "info",
        )
        return redirect(urls.other(new))
    flash(_("Your reply was added."), "info")
    return redirect(f"{urls.page}#m{message.id}")


def set_status(ticket: Ticket, actor: Actor, urls: TicketUrls, status: Status):
    """Mark as solved or reopen; a refused change comes back as a message on the page."""
    form = ActionForm()
    if not form.validate_on_submit():
        return redirect(urls.page)
    try:
        change_status(ticket, actor, status)
    except DomainError as exc:
        db.session.rollback()
        flash(messages.for_customer(exc), "error")
        return redirect(urls.page)
    db.session.commit()
    if status == Status.RESOLVED:
        flash(_("Thank you! The request is marked as solved."), "info")
    else:
        flash(_("The request is open again."), "info")
    return redirect(urls.page)


def send_attachment(ticket: Ticket, attachment_id: int):
    """A file of a public reply of this ticket: images inline, everything else downloaded."""
    attachment = queries.public_attachment(ticket, attachment_id)
    if attachment is None:
        abort(404)
    declared = (attachment.content_type or "").split(";")[0].strip().lower()
    inline = declared in INLINE_IMAGES
    response = send_file(
        storage.blob_path(attachment.sha256),
        mimetype=declared if declared in DOWNLOAD_TYPES else "application/octet-stream",
        as_attachment=not inline,
        download_name=attachment.filename,
        conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-cache"
    return response
