"""What the portal reads: a customer's requests page by page, and one ticket's public side.

Every query starts from the domain's permission filter, so it returns only what the actor may
see.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.tickets.models import Attachment, AuditEvent, Message, MessageKind, Ticket
from helpdesk.tickets.permissions import visible_tickets_filter
from helpdesk.tickets.states import OPEN_STATUSES, Status

PAGE_SIZE = 25
STATES = ("all", "open", "closed")


@dataclass(frozen=True)
class RequestPage:
    tickets: list[Ticket]
    next_cursor: str | None


def _cursor(ticket: Ticket) -> str:
    return f"{ticket.updated_at.isoformat()}_{ticket.id}"


def _parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """The (updated_at, id) a page continues after; None for a missing or mangled cursor."""
    if not value:
        return None
    stamp, _, ident = value.rpartition("_")
    try:
        return datetime.fromisoformat(stamp), int(ident)
    except ValueError:
        return None


def my_requests(
    actor: Actor, state: str = "all", after: str | None = None, limit: int = PAGE_SIZE
) -> RequestPage:
    """Tickets the actor may see, newest activity first, `limit` at a time (keyset paging on
    updated_at, id: stable while tickets change)."""
    query = (
        select(Ticket)
        .where(visible_tickets_filter(actor), Ticket.merged_into_id.is_(None))
        .options(selectinload(Ticket.assignee), selectinload(Ticket.requester))
    )
    if state == "open":
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif state == "closed":
        query = query.where(Ticket.status.not_in(OPEN_STATUSES))
    cursor = _parse_cursor(after)
    if cursor is not None:
        stamp, ident = cursor
        query = query.where(
            or_(Ticket.updated_at < stamp, and_(Ticket.updated_at == stamp, Ticket.id < ident))
        )
    query = query.order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(limit + 1)
    rows = list(db.session.execute(query).scalars())
    next_cursor = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return RequestPage(rows[:limit], next_cursor)


def public_messages(ticket: Ticket) -> list[Message]:
    """The conversation the customer sees: public replies only, never notes or system lines."""
    return list(
        db.session.execute(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.kind == MessageKind.REPLY)
            .options(
                selectinload(Message.attachments),
                selectinload(Message.author_user),
                selectinload(Message.author_contact),
            )
            .order_by(Message.created_at, Message.id)
        ).scalars()
    )


@dataclass(frozen=True)
class TimelineEntry:
    status: Status
    at: datetime


def status_timeline(ticket: Ticket) -> list[TimelineEntry]:
    """When the ticket was received and each status it moved to since."""
    entries = [TimelineEntry(Status.NEW, ticket.created_at)]
    changes = db.session.execute(
        select(AuditEvent.new_value, AuditEvent.created_at)
        .where(AuditEvent.ticket_id == ticket.id, AuditEvent.action == "status")
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).all()
    for new_value, at in changes:
        try:
            entries.append(TimelineEntry(Status(new_value), at))
        except ValueError:
            continue  # a status this version does not know: leave it out rather than fail
    return entries


def related_tickets(actor: Actor, ticket: Ticket) -> list[Ticket]:
    """Follow-ups opened by replies to this ticket after it closed, that the actor may see."""
    return list(
        db.session.execute(
            select(Ticket)
            .where(Ticket.follow_up_of_id == ticket.id, visible_tickets_filter(actor))
            .order_by(Ticket.id)
        ).scalars()
    )


def public_attachment(ticket: Ticket, attachment_id: int) -> Attachment | None:
    """The attachment if it belongs to this ticket and to one of its public replies."""
    return db.session.execute(
        select(Attachment)
        .join(Message, Attachment.message_id == Message.id)
        .where(
            Attachment.id == attachment_id,
            Attachment.ticket_id == ticket.id,
            Message.ticket_id == ticket.id,
            Message.kind == MessageKind.REPLY,
        )
    ).scalar_one_or_none()
