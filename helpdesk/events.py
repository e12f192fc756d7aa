"""Domain events fanned out to the outbox: one row per subscriber, so each retries alone.

Subscribers register an outbox kind for an event name at import time (see
`helpdesk.subscribers`); `publish` writes their rows in the current transaction.
"""

from helpdesk import outbox

SUBSCRIBERS: dict[str, list[str]] = {}

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
STATUS_CHANGED = "ticket.status_changed"
ASSIGNED = "ticket.assigned"
MESSAGE_ADDED = "ticket.message_added"


def subscribe(event: str, kind: str) -> None:
    kinds = SUBSCRIBERS.setdefault(event, [])
    if kind not in kinds:
        kinds.append(kind)


def publish(event: str, **payload) -> None:
    for kind in SUBSCRIBERS.get(event, ()):
        outbox.enqueue(kind, {"event": event, **payload})
