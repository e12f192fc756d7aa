"""What the helpdesk tells people when something happens (outbox handlers).

The foundation sends the customer's acknowledgement; the outbound-mail work adds templates,
languages and the rest of the notifications.
"""

from flask import current_app, url_for

from helpdesk import events
from helpdesk.extensions import db
from helpdesk.mail.sending import send_mail
from helpdesk.outbox.runner import handler
from helpdesk.tickets.models import Ticket

ACKNOWLEDGE = "notify.acknowledge"
events.subscribe(events.TICKET_CREATED, ACKNOWLEDGE)


@handler(ACKNOWLEDGE)
def acknowledge(payload: dict) -> str:
    """Tell the requester their request was accepted, with its number."""
    ticket = db.session.get(Ticket, payload["ticket_id"])
    if ticket is None:
        return "ticket gone"
    address = ticket.requester.primary_email
    if not address:
        return "requester has no address"
    base = current_app.config["HELPDESK_BASE_URL"]
    with current_app.test_request_context(base_url=base):
        link = url_for("portal.ticket", number=ticket.number, _external=True)
    subject = f"[#{ticket.number}] {ticket.subject}"
    text = (
        f"Hello {ticket.requester.name},\n\n"
        f"we have received your request and given it the number #{ticket.number}.\n"
        f"You can follow it here: {link}\n\n"
        "Reply to this mail to add information.\n"
    )
    return send_mail([address], subject, text, headers={"Auto-Submitted": "auto-replied"})
