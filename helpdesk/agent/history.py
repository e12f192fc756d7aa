"""A ticket's history for the console: messages and recorded changes, in time order."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.tickets.models import AuditEvent, Message, Ticket

# Changes worth a line in the history (merges and splits already have their event messages).
_SHOWN = {
    "status": "changed the status",
    "assignee": "changed the assignee",
    "team": "changed the team",
    "priority": "changed the priority",
    "tags": "changed the tags",
    "participant_added": "copied in",
    "participant_removed": "stopped copying in",
    "spam": "marked as spam, blocked",
}


@dataclass(frozen=True)
class Change:
    """One audited change, shown as a line between messages."""

    at: datetime
    who: str
    what: str
    old: str | None
    new: str | None

    @property
    def is_change(self) -> bool:
        return True


def _who(label: str) -> str:
    return label.split(" <", 1)[0] if label else "system"


def history(ticket: Ticket) -> list[Message | Change]:
    """Every message and shown change, oldest first (ties: messages before changes)."""
    events = db.session.execute(
        select(AuditEvent)
        .where(AuditEvent.ticket_id == ticket.id, AuditEvent.action.in_(list(_SHOWN)))
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ).scalars()
    changes = [
        Change(e.created_at, _who(e.actor_label), _SHOWN[e.action], e.old_value, e.new_value)
        for e in events
    ]
    entries: list[tuple] = [(m.created_at, 0, m.id, m) for m in ticket.messages]
    entries += [(c.at, 1, i, c) for i, c in enumerate(changes)]
    return [entry[-1] for entry in sorted(entries, key=lambda e: e[:3])]
