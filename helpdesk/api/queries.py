"""The ticket list: the actor's visible tickets, the filters of the query string, keyset
pagination on (updated_at, id), newest first."""

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import selectinload

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Team, User
from helpdesk.api import cursors
from helpdesk.api.errors import ApiError
from helpdesk.api.schemas.common import DB_INT_MAX
from helpdesk.api.schemas.tickets import TicketQuery
from helpdesk.api.search import ticket_text_filter
from helpdesk.contacts.models import Contact, ContactEmail
from helpdesk.extensions import db
from helpdesk.tickets.models import Tag, Ticket, ticket_tags
from helpdesk.tickets.permissions import visible_tickets_filter


def as_id(value: str) -> int | None:
    """A database id written as ASCII digits, or None."""
    if value.isascii() and value.isdigit() and len(value) <= 10 and 1 <= int(value) <= DB_INT_MAX:
        return int(value)
    return None


def _bad(field: str, message: str) -> ApiError:
    return ApiError(422, message, {field: message})


def _assignee_filter(actor: Actor, value: str) -> ColumnElement[bool]:
    value = value.strip()
    if value.lower() == "me":
        return Ticket.assignee_id == actor.user.id if actor.user else false()
    if value.lower() == "none":
        return Ticket.assignee_id.is_(None)
    if (user_id := as_id(value)) is not None:
        return Ticket.assignee_id == user_id
    if "@" in value:
        return Ticket.assignee_id.in_(select(User.id).where(User.email == value.lower()))
    raise _bad("assignee", "Give a user id, an e-mail address, `me` or `none`.")


def _requester_filter(value: str) -> ColumnElement[bool]:
    value = value.strip()
    if (contact_id := as_id(value)) is not None:
        return Ticket.requester_id == contact_id
    if "@" in value:
        owners = select(ContactEmail.contact_id).where(ContactEmail.email == value.lower())
        return Ticket.requester_id.in_(owners)
    raise _bad("requester", "Give a contact id or an e-mail address.")


def _team_filter(value: str) -> ColumnElement[bool]:
    value = value.strip()
    if value.lower() == "none":
        return Ticket.team_id.is_(None)
    if (team_id := as_id(value)) is not None:
        return Ticket.team_id == team_id
    return Ticket.team_id.in_(select(Team.id).where(Team.name == value))


def _tag_filter(name: str) -> ColumnElement[bool]:
    tagged = select(ticket_tags.c.ticket_id).join(Tag).where(Tag.name == name.strip().lower())
    return Ticket.id.in_(tagged)


def ticket_filters(actor: Actor, query: TicketQuery) -> list[ColumnElement[bool]]:
    """WHERE clauses for the query's filters (visibility is added separately)."""
    clauses = []
    if query.status:
        clauses.append(Ticket.status.in_(query.status))
    if query.priority:
        clauses.append(Ticket.priority.in_(query.priority))
    if query.assignee is not None:
        clauses.append(_assignee_filter(actor, query.assignee))
    if query.team is not None:
        clauses.append(_team_filter(query.team))
    if query.requester is not None:
        clauses.append(_requester_filter(query.requester))
    if query.organization is not None:
        clauses.append(Ticket.organization_id == query.organization)
    clauses.extend(_tag_filter(name) for name in query.tag or ())
    if query.updated_since is not None:
        clauses.append(Ticket.updated_at >= query.updated_since)
    if query.q:
        clauses.append(ticket_text_filter(actor, query.q))
    return clauses


def _after(cursor: str) -> ColumnElement[bool]:
    updated_at, ticket_id = cursors.decode_time_id(cursor)
    return or_(
        Ticket.updated_at < updated_at, and_(Ticket.updated_at == updated_at, Ticket.id < ticket_id)
    )


def find_tickets(actor: Actor, query: TicketQuery) -> tuple[list[Ticket], str | None]:
    """One page of tickets and the cursor of the next page (None on the last)."""
    stmt = select(Ticket).where(visible_tickets_filter(actor), *ticket_filters(actor, query))
    if query.cursor:
        stmt = stmt.where(_after(query.cursor))
    stmt = (
        stmt.order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(query.limit + 1)
        .options(
            selectinload(Ticket.requester).selectinload(Contact.emails),
            selectinload(Ticket.organization),
            selectinload(Ticket.assignee),
            selectinload(Ticket.team),
            selectinload(Ticket.tags),
            selectinload(Ticket.merged_into),
            selectinload(Ticket.follow_up_of),
        )
    )
    rows = list(db.session.execute(stmt).scalars())
    if len(rows) <= query.limit:
        return rows, None
    last = rows[query.limit - 1]
    return rows[: query.limit], cursors.encode(last.updated_at, last.id)
