"""Durable side effects. Services call `enqueue`; nothing leaves before the commit."""

import json
from datetime import timedelta

from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.timeutil import utcnow

SESSION_KEY = "outbox_new_ids"


def enqueue(kind: str, payload: dict, delay: timedelta | None = None) -> OutboxItem:
    """Add a side effect to the current transaction; it runs after the commit."""
    item = OutboxItem(
        kind=kind,
        payload=json.dumps(payload, sort_keys=True),
        status=OutboxStatus.PENDING,
        run_after=utcnow() + (delay or timedelta()),
    )
    db.session.add(item)
    db.session.flush()
    if not delay:
        db.session.info.setdefault(SESSION_KEY, []).append(item.id)
    return item
