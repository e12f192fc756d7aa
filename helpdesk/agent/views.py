"""Console views: load, check, call one service, render or redirect."""

from flask import render_template
from sqlalchemy import select

from helpdesk.accounts.auth import current_actor
from helpdesk.agent import bp
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from helpdesk.tickets.permissions import visible_tickets_filter
from helpdesk.tickets.services import get_ticket
from helpdesk.tickets.states import OPEN_STATUSES


@bp.route("/")
def queue():
    tickets = db.session.execute(
        select(Ticket)
        .where(visible_tickets_filter(current_actor()), Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
        .limit(50)
    ).scalars()
    return render_template("agent/queue.html", tickets=list(tickets))


@bp.route("/tickets/<int:number>")
def ticket(number: int):
    ticket = get_ticket(current_actor(), number)
    return render_template("agent/ticket.html", ticket=ticket, messages=ticket.messages)
