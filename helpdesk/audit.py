"""The audit trail: one row per change saying who changed what, from which value to which.

Ticket services pass the ticket; administration (settings, people, templates, mailboxes)
passes none, and those rows make the admin change log.
"""

import json
from typing import Any

from helpdesk.accounts.actor import Actor
from helpdesk.errors import PermissionDenied
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow

VALUE_MAX = 500  # characters of an old or new value the column keeps


def shorten(value: Any, limit: int = VALUE_MAX) -> str | None:
    """A value as the trail shows it: text (JSON for structures), at most `limit` characters."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, list | tuple | dict | bool):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record(
    actor: Actor, action: str, old: Any = None, new: Any = None, *, ticket=None, ticket_id=None
):
    """Add one audit row (flushed with the change it records, never committed here). Give
    the `ticket` itself (it may not have its id yet), or only its id."""
    from helpdesk.tickets.models import AuditEvent

    event = AuditEvent(
        ticket_id=ticket.id if ticket is not None else ticket_id,
        actor_user_id=actor.user.id if actor.user else None,
        actor_contact_id=actor.contact.id if actor.contact and not actor.user else None,
        actor_label=actor.label[:200],
        action=action,
        old_value=shorten(old),
        new_value=shorten(new),
        created_at=utcnow(),
    )
    if ticket is not None:
        event.ticket = ticket  # (set to None, it would blank the id at the flush)
    db.session.add(event)
    return event


def require_admin(actor: Actor, refusal: str) -> None:
    """Raise PermissionDenied with `refusal` (a whole sentence, a catalog entry) unless the
    actor is an administrator."""
    if not actor.is_admin:
        raise PermissionDenied(refusal)
