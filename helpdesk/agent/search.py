"""Full-text search across the tickets the agent may see."""

from flask import render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from helpdesk.accounts.auth import current_actor
from helpdesk.agent import bp
from helpdesk.errors import NotFound
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from helpdesk.tickets.search import QUERY_MAX, search_ticket_ids
from helpdesk.tickets.services import get_ticket

RESULTS = 50


@bp.get("/search")
def search():
    actor = current_actor()
    query = request.args.get("q", "").strip()[:QUERY_MAX]
    hits = search_ticket_ids(actor, query, RESULTS) if query else []
    tickets = {
        t.id: t
        for t in db.session.execute(
            select(Ticket)
            .where(Ticket.id.in_([h.ticket_id for h in hits]))
            .options(selectinload(Ticket.requester), selectinload(Ticket.assignee))
        ).scalars()
    }
    results = [(tickets[h.ticket_id], h) for h in hits if h.ticket_id in tickets]
    # A number ("1042" or "#1042") may simply be the ticket the agent wants.
    number = query.lstrip("#")
    direct = None
    if number.isdigit() and len(number) < 10:
        try:
            direct = get_ticket(actor, int(number))
        except NotFound:
            direct = None
    return render_template(
        "agent/search.html", query=query, results=results, direct=direct, limit=RESULTS
    )
