"""A ticket's messages and attachments."""

from flask import send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from helpdesk import storage
from helpdesk.api import cursors, serialize
from helpdesk.api.auth import api_actor
from helpdesk.api.openapi import BINARY
from helpdesk.api.routing import operation
from helpdesk.api.schemas import tickets as s
from helpdesk.errors import NotFound
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.models import Attachment, Channel, Message, MessageKind
from helpdesk.tickets.permissions import can_see_notes

TAG = "Messages"


@operation(
    "GET",
    "/tickets/<dbid:number>/messages",
    summary="List a ticket's messages",
    tag=TAG,
    query=s.MessageQuery,
    responses={200: s.MessageList},
)
def list_messages(number: int, query: s.MessageQuery):
    """Oldest first. Customers see public replies only; agents also notes and history lines."""
    actor = api_actor()
    ticket = services.get_ticket(actor, number)
    stmt = select(Message).where(Message.ticket_id == ticket.id)
    if not can_see_notes(actor):
        stmt = stmt.where(Message.kind == MessageKind.REPLY)
    if query.cursor:
        stmt = stmt.where(Message.id > cursors.decode_id(query.cursor))
    stmt = (
        stmt.order_by(Message.id)
        .limit(query.limit + 1)
        .options(
            selectinload(Message.attachments),
            selectinload(Message.author_user),
            selectinload(Message.author_contact),
        )
    )
    rows = list(db.session.execute(stmt).scalars())
    next_cursor = cursors.encode(rows[query.limit - 1].id) if len(rows) > query.limit else None
    items = [serialize.message(m) for m in rows[: query.limit]]
    return s.MessageList(items=items, next_cursor=next_cursor)


@operation(
    "POST",
    "/tickets/<dbid:number>/messages",
    summary="Add a reply or an internal note",
    tag=TAG,
    body=s.MessageCreate,
    multipart=True,
    responses={201: s.Message},
    response_headers={"Location": "Where the message is listed."},
    errors=(403, 409),
)
def create_message(number: int, body: s.MessageCreate, uploads):
    """A public reply (everyone who may see the ticket), or an internal note (agents only).
    Files go in a multipart request as `attachments`. A customer's reply to a closed ticket
    opens a new, linked ticket: see the answer's `ticket_number`."""
    actor = api_actor()
    ticket = services.get_ticket(actor, number)
    if body.kind == "note":
        message = services.add_note(ticket, actor, body=body.body, html=body.html, uploads=uploads)
    else:
        message = services.add_reply(
            ticket, actor, body=body.body, html=body.html, channel=Channel.API, uploads=uploads
        )
    db.session.flush()
    location = url_for("api.list_messages", number=message.ticket.number)
    return serialize.message(message), 201, {"Location": location}


@operation(
    "GET",
    "/tickets/<dbid:number>/attachments/<dbid:attachment_id>",
    summary="Download an attachment",
    tag=TAG,
    responses={200: BINARY},
)
def download_attachment(number: int, attachment_id: int):
    """The file, if the token's user may see the message it belongs to."""
    actor = api_actor()
    ticket = services.get_ticket(actor, number)
    attachment = db.session.get(Attachment, attachment_id)
    hidden = (
        attachment is None
        or attachment.ticket_id != ticket.id
        or (
            attachment.message is not None
            and attachment.message.kind != MessageKind.REPLY
            and not can_see_notes(actor)
        )
    )
    if hidden:
        raise NotFound("There is no such attachment.")
    path = storage.blob_path(attachment.sha256)
    if not path.exists():
        raise NotFound("The file is missing from storage.")
    return send_file(
        path,
        mimetype=attachment.content_type or "application/octet-stream",
        as_attachment=True,
        download_name=attachment.filename,
        max_age=0,
    )
