"""Periodic work (auto-close, expiry, refreshes), run by whichever process claims it first."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from helpdesk.extensions import db
from helpdesk.outbox.models import PeriodicRun
from helpdesk.timeutil import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    name: str
    every: timedelta
    run: Callable[[], object]


TASKS: dict[str, Task] = {}


def periodic(name: str, every: timedelta):
    """Register a function to run about once per `every`, across all processes."""

    def register(func):
        TASKS[name] = Task(name, every, func)
        return func

    return register


def _claim(task: Task) -> bool:
    now = utcnow()
    claimed = db.session.execute(
        update(PeriodicRun)
        .where(PeriodicRun.name == task.name, PeriodicRun.next_run_at <= now)
        .values(next_run_at=now + task.every, last_run_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed == 0:
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(PeriodicRun).values(
                        name=task.name, next_run_at=now + task.every, last_run_at=now
                    )
                )
            claimed = 1
        except IntegrityError:
            claimed = 0  # the row exists: it is simply not due yet
    db.session.commit()
    return claimed == 1


def run_due_tasks() -> list[str]:
    """Run every task that is due; return the names this process ran."""
    ran = []
    for task in TASKS.values():
        if not _claim(task):
            continue
        try:
            result = task.run()
            db.session.commit()
            ran.append(task.name)
            if result:
                log.info("periodic %s: %s", task.name, result)
        except Exception:
            db.session.rollback()
            log.exception("periodic task %s failed; it runs again when next due", task.name)
    return ran


@periodic("tickets.auto_close", timedelta(minutes=10))
def _auto_close():
    from helpdesk.tickets.services import close_resolved_tickets

    closed = close_resolved_tickets()
    return f"closed {closed} resolved ticket(s)" if closed else None
