"""Full-text matching of tickets for `q`. For now a LIKE over subject and message text; the
one place to change when real full-text search arrives."""

from sqlalchemy import ColumnElement, and_, or_, select, true

from helpdesk.tickets.models import Message, MessageKind, Ticket

WORDS_MAX = 10


def like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def ticket_text_filter(q: str, include_notes: bool) -> ColumnElement[bool]:
    """Tickets whose subject or messages contain every word of `q`; internal notes count
    only for those who may read them."""
    kinds = [MessageKind.REPLY, MessageKind.NOTE] if include_notes else [MessageKind.REPLY]
    clauses = []
    for word in q.split()[:WORDS_MAX]:
        pattern = like_pattern(word)
        in_messages = select(Message.ticket_id).where(
            Message.kind.in_(kinds), Message.body_text.ilike(pattern, escape="\\")
        )
        clauses.append(or_(Ticket.subject.ilike(pattern, escape="\\"), Ticket.id.in_(in_messages)))
    return and_(*clauses) if clauses else true()
