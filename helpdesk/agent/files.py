"""Attachments, for agents who may see their ticket: always downloaded, never shown inline."""

import io

from flask import send_file

from helpdesk import storage
from helpdesk.accounts.auth import current_actor
from helpdesk.agent import bp
from helpdesk.errors import NotFound
from helpdesk.extensions import db
from helpdesk.tickets import permissions
from helpdesk.tickets.models import Attachment, Ticket


@bp.get("/attachments/<int:attachment_id>/<path:filename>")
def attachment(attachment_id: int, filename: str):
    found = db.session.get(Attachment, attachment_id)
    ticket = db.session.get(Ticket, found.ticket_id) if found is not None else None
    if ticket is None or not permissions.can_view_ticket(current_actor(), ticket):
        raise NotFound("There is no such file.")
    try:
        data = storage.read_blob(found.sha256)
    except FileNotFoundError:
        raise NotFound("The file is missing from storage.") from None
    response = send_file(
        io.BytesIO(data),
        mimetype=found.content_type or "application/octet-stream",
        as_attachment=True,
        download_name=found.filename,
    )
    # Whatever the sender called it, the browser must not guess and run it.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
