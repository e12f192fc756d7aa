"""Who else has this ticket open: agent.js reports in every few seconds and shows the answer."""

from flask import jsonify, request
from flask_babel import gettext as _

from helpdesk.accounts.auth import current_actor
from helpdesk.agent import bp
from helpdesk.extensions import db
from helpdesk.tickets import collisions, presence
from helpdesk.tickets.services import get_ticket


@bp.post("/tickets/<int:number>/presence")
def report_presence(number: int):
    """Record this agent's state ("viewing", "composing" or "gone"); answer with the others
    and the newest message id, so the page can tell that a reply came in."""
    actor = current_actor()
    ticket = get_ticket(actor, number)
    state = request.form.get("state", presence.VIEWING)
    if state == "gone":
        presence.leave(ticket, actor)
    else:
        presence.record_presence(ticket, actor, state)
    db.session.commit()
    return jsonify(
        {
            "others": [
                {"name": p.name, "state": p.state, "text": describe(p)}
                for p in presence.others_present(ticket, actor)
            ],
            "last_message_id": collisions.last_message_id(ticket),
            "version": ticket.version,
        }
    )


def describe(present) -> str:
    """What the page says about another agent on the ticket, in this agent's language."""
    if present.state == presence.COMPOSING:
        return _("%(name)s is writing a reply", name=present.name)
    return _("%(name)s is viewing this ticket", name=present.name)
