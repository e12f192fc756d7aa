"""Durable side effects. Services call `enqueue`; nothing leaves before the commit."""

import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta

from sqlalchemy import delete, insert

from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.timeutil import utcnow

SESSION_KEY = "outbox_new_ids"  # ids to hand to a runner once the transaction commits
COLLECT_KEY = "outbox_collected"  # set inside collecting(): items waiting to be added


def enqueue(kind: str, payload: dict, delay: timedelta | None = None) -> OutboxItem:
    """Add a side effect to the current transaction; it runs after the commit.

    Flushed at once (the item has its id), unless inside `collecting()`: then it waits in
    the collector's list, outside the session and without an id, for `add_collected`."""
    item = OutboxItem(
        kind=kind,
        payload=json.dumps(payload, sort_keys=True),
        status=OutboxStatus.PENDING,
        run_after=utcnow() + (delay or timedelta()),
    )
    collected = db.session.info.get(COLLECT_KEY)
    if collected is not None:
        collected.append((item, not delay))
        return item
    db.session.add(item)
    db.session.flush()
    if not delay:
        db.session.info.setdefault(SESSION_KEY, []).append(item.id)
    return item


@contextlib.contextmanager
def collecting() -> Iterator[list[tuple[OutboxItem, bool]]]:
    """Collect what is enqueued inside instead of writing it item by item: the caller writes
    the list with `add_collected` (one INSERT for many items) or drops it (a failed mail)."""
    info = db.session.info
    previous = info.get(COLLECT_KEY)
    collected: list[tuple[OutboxItem, bool]] = []
    info[COLLECT_KEY] = collected
    try:
        yield collected
    finally:
        if previous is None:
            info.pop(COLLECT_KEY, None)
        else:
            info[COLLECT_KEY] = previous


def add_collected(collected: list[tuple[OutboxItem, bool]]) -> None:
    """Write collected items in one INSERT (the ORM would write one at a time on SQLite,
    which cannot tell it which new id is whose); those without a delay run after the commit.
    The items themselves stay outside the session: only their rows are written."""
    table = OutboxItem.__table__
    for due_now in (True, False):
        rows = [
            {"kind": i.kind, "payload": i.payload, "status": i.status, "run_after": i.run_after}
            for i, due in collected
            if due is due_now
        ]
        if not rows:
            continue
        ids = db.session.execute(insert(table).returning(table.c.id), rows).scalars().all()
        if due_now:
            db.session.info.setdefault(SESSION_KEY, []).extend(ids)


def mark() -> int:
    """How many items this transaction has enqueued so far (for `withdraw`)."""
    collected = db.session.info.get(COLLECT_KEY)
    if collected is not None:
        return len(collected)
    return len(db.session.info.get(SESSION_KEY) or [])


def withdraw(kind: str, since: int) -> None:
    """Drop the not yet sent items of `kind` enqueued after `mark()` returned `since`."""
    collected = db.session.info.get(COLLECT_KEY)
    if collected is not None:
        collected[since:] = [entry for entry in collected[since:] if entry[0].kind != kind]
        return
    ids = (db.session.info.get(SESSION_KEY) or [])[since:]
    if ids:
        db.session.execute(
            delete(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.kind == kind)
        )
