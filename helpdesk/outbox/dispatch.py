"""Hand freshly committed outbox items to a runner.

With `REDIS_URL` each item becomes an RQ job; without it a small thread pool in this
process runs them. Either way the row is already committed, so if this hand-off is lost
(the process dies, Redis is down) the due-work loop runs the item later.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from helpdesk.outbox import SESSION_KEY

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None


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


def _run_in_thread(app: Flask, item_ids: list[int]) -> None:
    from helpdesk.outbox.runner import run_item

    with app.app_context():
        for item_id in item_ids:
            try:
                run_item(item_id)
            except Exception:  # the row stays due; the due-work loop retries it
                log.exception("running outbox item %s in-process failed", item_id)


def dispatch(app: Flask, item_ids: list[int]) -> None:
    mode = app.config["OUTBOX_DISPATCH"]
    if not item_ids or mode == "none":
        return
    try:
        if mode == "rq":
            from helpdesk.jobs import enqueue_outbox_items

            enqueue_outbox_items(app, item_ids)
        else:
            _thread_pool().submit(_run_in_thread, app, item_ids)
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
