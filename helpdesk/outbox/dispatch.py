"""Hand freshly committed outbox items to a runner.

With `REDIS_URL` each item becomes an RQ job; without it a small thread pool in this
process runs them. Either way the row is already committed, so if this hand-off is lost
(the process dies, Redis is down) the due-work loop runs the item later.

The in-process runners give way to `foreground()` work (the mail poller's batches): Python
runs one thread at a time, so a runner sending acknowledgements while the poller ingests a
backlog slows the poller down by about as much as the sending takes. They wait until the
foreground has been quiet for a moment, and never longer than FOREGROUND_WAIT after the
hand-off: with a trickle of mail that is the length of one batch.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from helpdesk.outbox import SESSION_KEY

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None

FOREGROUND_WAIT = 15.0  # seconds a runner waits at most for the foreground to pause
QUIET = 0.2  # seconds without foreground work that count as a pause
_quiet = threading.Condition()
_foreground = 0  # foreground() blocks running now
_foreground_ended = 0.0  # time.monotonic() when the last one ended


@contextlib.contextmanager
def foreground() -> Iterator[None]:
    """Work that the in-process runners of this process wait for (see the module's doc)."""
    global _foreground, _foreground_ended
    with _quiet:
        _foreground += 1
    try:
        yield
    finally:
        with _quiet:
            _foreground -= 1
            _foreground_ended = time.monotonic()
            _quiet.notify_all()


def _wait_for_pause(deadline: float) -> None:
    with _quiet:
        while (now := time.monotonic()) < deadline:
            if _foreground == 0:
                quiet_for = now - _foreground_ended
                if quiet_for >= QUIET:
                    return
                _quiet.wait(min(QUIET - quiet_for, deadline - now))
            else:
                _quiet.wait(deadline - now)


_handed = 0  # items handed to this process's runners and not yet run
_handed_lock = threading.Lock()


def _count_handed(change: int) -> None:
    global _handed
    with _handed_lock:
        _handed += change


def handed_in_process() -> int:
    """How many items this process's runners were handed and have not run yet."""
    with _handed_lock:
        return _handed


def drain() -> None:
    """Wait for the in-process runners to finish what they were handed (tests, shutdown)."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)


def _thread_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="outbox")
    return _pool


def _run_in_thread(app: Flask, item_ids: list[int], handed_at: float) -> None:
    from helpdesk.outbox.runner import run_item

    deadline = handed_at + FOREGROUND_WAIT
    with app.app_context():
        for item_id in item_ids:
            _wait_for_pause(deadline)
            try:
                run_item(item_id)
            except Exception:  # the row stays due; the due-work loop retries it
                log.exception("running outbox item %s in-process failed", item_id)
            finally:
                _count_handed(-1)


def dispatch(app: Flask, item_ids: list[int]) -> None:
    mode = app.config["OUTBOX_DISPATCH"]
    if not item_ids or mode == "none":
        return
    try:
        if mode == "rq":
            from helpdesk.jobs import enqueue_outbox_items

            enqueue_outbox_items(app, item_ids)
        else:
            _count_handed(len(item_ids))
            try:
                _thread_pool().submit(_run_in_thread, app, item_ids, time.monotonic())
            except BaseException:
                _count_handed(-len(item_ids))
                raise
    except Exception:  # the commit has happened: failing it now would lie to the caller
        log.exception(
            "could not hand outbox items %s to %s; the due-work loop will", item_ids, mode
        )


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # only a savepoint was released: the outer transaction may still roll back
    ids = session.info.pop(SESSION_KEY, None)
    if ids:
        dispatch(current_app._get_current_object(), ids)


def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # A savepoint's rollback leaves the outer transaction, and the items it enqueued, alive.
    # (Ids the savepoint itself added stay listed too; their claim finds no row and does nothing.)
    if not previous_transaction.nested:
        session.info.pop(SESSION_KEY, None)


def init_app(app: Flask, session_factory) -> None:
    """Dispatch after every successful commit of the app's sessions, to the committing app.

    The session factory is shared by every app in the process (tests make many), so the
    listeners are added once and look up the app when they run.
    """
    for name, listener in (
        ("after_commit", _after_commit),
        ("after_soft_rollback", _after_rollback),
    ):
        if not event.contains(session_factory, name, listener):
            event.listen(session_factory, name, listener)
