"""Two agents on one ticket: stale forms and replies that crossed."""

from sqlalchemy import select

from helpdesk.accounts.actor import Actor
from helpdesk.errors import Conflict
from helpdesk.extensions import db
from helpdesk.tickets.models import Message, MessageKind, Ticket


def check_version(ticket: Ticket, loaded_version: int | None) -> None:
    """Raise Conflict when the ticket changed since the form was loaded at `loaded_version`."""
    if loaded_version is not None and loaded_version != ticket.version:
        raise Conflict(
            "#%(number)s changed while you had it open (someone replied or changed it)."
            " Nothing was saved: check the ticket as it is now and make your change again.",
            {"version": "Stale."},
            number=ticket.number,
        )


def replies_since(ticket: Ticket, actor: Actor, last_seen_id: int | None) -> list[Message]:
    """Public replies added after message `last_seen_id` by anyone but the actor."""
    if last_seen_id is None:
        return []
    stmt = select(Message).where(
        Message.ticket_id == ticket.id,
        Message.kind == MessageKind.REPLY,
        Message.id > last_seen_id,
    )
    if actor.user is not None:
        stmt = stmt.where(
            (Message.author_user_id != actor.user.id) | Message.author_user_id.is_(None)
        )
    return list(db.session.execute(stmt.order_by(Message.id)).scalars())


def last_message_id(ticket: Ticket) -> int:
    """The newest message id on the ticket (what a reply form remembers having seen)."""
    return max((m.id for m in ticket.messages), default=0)
