"""Who else has a ticket open: agents' pages report in every few seconds (short polling)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import User
from helpdesk.errors import NotFound, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets import permissions
from helpdesk.tickets.console_models import Presence
from helpdesk.tickets.models import Ticket
from helpdesk.timeutil import utcnow

VIEWING, COMPOSING = "viewing", "composing"
STATES = (VIEWING, COMPOSING)
# A page polls every 10 s; three missed polls and the agent has left.
FRESH_FOR = timedelta(seconds=30)
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Present:
    user_id: int
    name: str
    state: str
    seen_at: datetime


def record_presence(ticket: Ticket, actor: Actor, state: str) -> None:
    """Note that the actor has the ticket open ("viewing") or is writing ("composing")."""
    if not actor.is_staff or not permissions.can_view_ticket(actor, ticket):
        raise NotFound("There is no ticket #%(number)s.", number=ticket.number)
    if state not in STATES:
        raise ValidationError(
            "Unknown presence “%(state)s”.", {"state": "Unknown."}, state=state[:20]
        )
    now = utcnow()
    insert = sqlite_insert if db.engine.dialect.name == "sqlite" else postgresql_insert
    stmt = insert(Presence).values(
        ticket_id=ticket.id, user_id=actor.user.id, state=state, seen_at=now
    )
    db.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[Presence.ticket_id, Presence.user_id],
            set_={"state": stmt.excluded.state, "seen_at": stmt.excluded.seen_at},
        )
    )
    db.session.execute(
        delete(Presence).where(
            Presence.ticket_id == ticket.id, Presence.seen_at < now - FORGET_AFTER
        )
    )


def leave(ticket: Ticket, actor: Actor) -> None:
    """The actor closed the ticket's page."""
    if actor.user is not None:
        db.session.execute(
            delete(Presence).where(
                Presence.ticket_id == ticket.id, Presence.user_id == actor.user.id
            )
        )


def others_present(ticket: Ticket, actor: Actor) -> list[Present]:
    """The other agents who have the ticket open now, those writing first."""
    me = actor.user.id if actor.user else None
    rows = db.session.execute(
        select(Presence.user_id, User.name, Presence.state, Presence.seen_at)
        .join(User, User.id == Presence.user_id)
        .where(
            Presence.ticket_id == ticket.id,
            Presence.user_id != me,
            Presence.seen_at >= utcnow() - FRESH_FOR,
        )
        .order_by(Presence.state, User.name)
    )
    present = [Present(*row) for row in rows]
    return sorted(present, key=lambda p: (p.state != COMPOSING, p.name))
