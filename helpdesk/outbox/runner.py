"""Running outbox items: claim one atomically, call its handler, record the outcome.

Any number of processes may run this at once. A claim is an UPDATE that only one of them
can win; a claim whose process died expires (`LEASE`) and the item becomes due again, so a
crash after the commit delays a side effect but never loses it.

Delivery is at least once, not exactly once. The outcome is recorded after the handler
returns, so a process that dies (or loses its database) after the far end accepted the side
effect -- the SMTP server answered 250 -- but before "done" is committed leaves the item
running; when its lease expires it runs again and the customer gets the mail twice. That
window is one commit long; a rare duplicate is the price of never losing a mail.
"""

import json
import logging
import traceback
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.timeutil import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
# Wait before each retry; after the last one the item is dead (kept, and can be resent).
BACKOFF = [
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
]

Handler = Callable[[dict], str | None]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that performs outbox items of `kind`."""

    def register(func: Handler) -> Handler:
        HANDLERS[kind] = func
        return func

    return register


def _due_clause(now):
    return or_(
        and_(OutboxItem.status == OutboxStatus.PENDING, OutboxItem.run_after <= now),
        and_(OutboxItem.status == OutboxStatus.RUNNING, OutboxItem.locked_until < now),
    )


def claim(item_id: int) -> int | None:
    """Take the item if it is due; return the attempt number, or None if someone else has it."""
    now = utcnow()
    result = db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, _due_clause(now))
        .values(
            status=OutboxStatus.RUNNING,
            attempts=OutboxItem.attempts + 1,
            locked_until=now + LEASE,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.execute(
        select(OutboxItem.attempts).where(OutboxItem.id == item_id)
    ).scalar_one()


def _finish(item_id: int, attempt: int, **values) -> None:
    # Only the holder of this attempt may record its outcome.
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.attempts == attempt)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def run_item(item_id: int) -> bool:
    """Run one item if it is due. True when this call ran it (successfully or not)."""
    attempt = claim(item_id)
    if attempt is None:
        return False
    item = db.session.get(OutboxItem, item_id)
    db.session.refresh(item)
    kind, payload = item.kind, json.loads(item.payload)
    func = HANDLERS.get(kind)
    try:
        if func is None:
            raise LookupError(f"no handler for outbox kind {kind!r}")
        result = func(payload)
        # In the handler's transaction: its changes and "done" commit together, and a handler
        # that broke the session counts as failed instead of raising out of the runner.
        _finish(
            item_id,
            attempt,
            status=OutboxStatus.DONE,
            done_at=utcnow(),
            locked_until=None,
            result=(result or "")[:500] or None,
        )
    except Exception as exc:  # recorded and retried: the outbox is the retry mechanism
        db.session.rollback()
        error = "".join(traceback.format_exception_only(exc)).strip()
        if attempt > len(BACKOFF):
            log.error("outbox item %s (%s) failed for good: %s", item_id, kind, error)
            _finish(item_id, attempt, status=OutboxStatus.DEAD, last_error=error, locked_until=None)
        else:
            log.warning("outbox item %s (%s) failed, will retry: %s", item_id, kind, error)
            _finish(
                item_id,
                attempt,
                status=OutboxStatus.PENDING,
                last_error=error,
                locked_until=None,
                run_after=utcnow() + BACKOFF[attempt - 1],
            )
    return True


def due_item_ids(limit: int = 100) -> list[int]:
    return list(
        db.session.execute(
            select(OutboxItem.id)
            .where(_due_clause(utcnow()))
            .order_by(OutboxItem.run_after, OutboxItem.id)
            .limit(limit)
        ).scalars()
    )


def run_due(limit: int = 100) -> int:
    """Run every due item (up to `limit`); return how many this process ran."""
    ran = 0
    for item_id in due_item_ids(limit):
        ran += run_item(item_id)
    return ran


def resend(item_id: int) -> None:
    """Make a dead (or done) item due again now."""
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id)
        .values(status=OutboxStatus.PENDING, run_after=utcnow(), attempts=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
