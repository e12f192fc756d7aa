"""Portal views: load, check, call one service, render or redirect."""

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from helpdesk.accounts.auth import current_actor, home_for
from helpdesk.extensions import db
from helpdesk.portal import bp
from helpdesk.tickets.models import MessageKind, Ticket
from helpdesk.tickets.permissions import visible_tickets_filter
from helpdesk.tickets.services import get_ticket


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/tickets")
@login_required
def my_tickets():
    tickets = db.session.execute(
        select(Ticket)
        .where(visible_tickets_filter(current_actor()), Ticket.merged_into_id.is_(None))
        .order_by(Ticket.updated_at.desc())
        .limit(200)
    ).scalars()
    return render_template("portal/tickets.html", tickets=list(tickets))


@bp.route("/tickets/<int:number>")
@login_required
def ticket(number: int):
    ticket = get_ticket(current_actor(), number)
    messages = [m for m in ticket.messages if m.kind == MessageKind.REPLY]
    return render_template("portal/ticket.html", ticket=ticket, messages=messages)
