"""Moving one message that landed on the wrong ticket (a misthreaded mail) to the right one."""

from sqlalchemy import select, update

from helpdesk import audit, events
from helpdesk.accounts.actor import Actor
from helpdesk.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.mail.models import InboundMail
from helpdesk.tickets import permissions
from helpdesk.tickets.models import (
    Attachment,
    Channel,
    Message,
    MessageKind,
    Ticket,
)
from helpdesk.tickets.services import add_event_line, add_mail_participant
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow


def _require_agent(actor: Actor, ticket: Ticket) -> None:
    if not permissions.can_view_ticket(actor, ticket):
        raise NotFound("There is no ticket #%(number)s.", number=ticket.number)
    if not actor.is_staff:
        raise PermissionDenied("Only agents move messages between tickets.")


def _check(message: Message, target: Ticket) -> None:
    source = message.ticket
    if message.kind == MessageKind.EVENT:
        raise ValidationError("History lines cannot be moved.", {"message": "An event."})
    if target.id == source.id:
        raise ValidationError(
            "The message is on #%(number)s already.",
            {"target": "The same ticket."},
            number=target.number,
        )
    if target.merged_into is not None:
        raise ValidationError(
            "#%(number)s was merged into #%(into)s; move it there.",
            {"target": "Merged."},
            number=target.number,
            into=target.merged_into.number,
        )
    if target.status == Status.CLOSED:
        raise InvalidTransition(
            "#%(number)s is closed; move the message to an open ticket.", number=target.number
        )
    if all(m.id == message.id or m.kind == MessageKind.EVENT for m in source.messages):
        raise ValidationError(
            "This is the only message on #%(number)s; merge the ticket instead.",
            {"message": "The only one."},
            number=source.number,
        )


def _audit(ticket: Ticket, actor: Actor, action: str, new: str) -> None:
    audit.record(actor, action, None, new, ticket_id=ticket.id)


def move_message(actor: Actor, message: Message, target: Ticket) -> bool:
    """Move `message` and its files from its ticket to `target`, recorded on both; returns
    whether its mail sender was added to `target`. Raises NotFound, PermissionDenied,
    ValidationError (an event, the same ticket, a merged target, the source's only message)
    and InvalidTransition (a closed target)."""
    source = message.ticket
    _require_agent(actor, source)
    _require_agent(actor, target)
    _check(message, target)
    who = message.author_name
    message.ticket = target
    db.session.execute(
        update(Attachment).where(Attachment.message_id == message.id).values(ticket_id=target.id)
    )
    inbound = db.session.execute(
        select(InboundMail).where(InboundMail.message_id == message.id)
    ).scalar_one_or_none()
    if inbound is not None:
        inbound.ticket_id = target.id
        note = f"Moved from #{source.number} to #{target.number} by {actor.label}."
        inbound.explanation = f"{inbound.explanation or ''} {note}".strip()
    # Whoever wrote the mail follows the ticket it now belongs to.
    contact = message.author_contact
    by_mail = message.channel == Channel.EMAIL and contact is not None
    joined = by_mail and not message.author_user_id and add_mail_participant(target, contact, actor)
    add_event_line(source, actor, f"A message from {who} was moved to #{target.number}.")
    add_event_line(target, actor, f"A message from {who} was moved here from #{source.number}.")
    _audit(source, actor, "message_moved_to", f"message {message.id} -> #{target.number}")
    _audit(target, actor, "message_moved_from", f"message {message.id} <- #{source.number}")
    now = utcnow()
    source.updated_at = target.updated_at = now
    db.session.flush()
    for ticket in (source, target):
        events.publish(events.TICKET_UPDATED, ticket_id=ticket.id, field="messages")
    return joined
