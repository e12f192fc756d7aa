"""Hand freshly committed outbox items to a runner.

With `REDIS_URL` each item becomes an RQ job; without it a small thread pool in this
process runs them. Either way the row is already committed, so if this hand-off is lost
(the process dies, Redis is down) the due-work loop runs the item later.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from helpdesk.outbox import SESSION_KEY

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None


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
    if mode == "rq":
        from helpdesk.jobs import enqueue_outbox_items

        try:
            enqueue_outbox_items(app, item_ids)
        except Exception:
            log.exception("could not hand outbox items %s to RQ; the due-work loop will", item_ids)
        return
    _thread_pool().submit(_run_in_thread, app, item_ids)


def init_app(app: Flask, session_factory) -> None:
    """Dispatch after every successful commit of the app's sessions."""

    @event.listens_for(session_factory, "after_commit")
    def _after_commit(session: Session) -> None:
        ids = session.info.pop(SESSION_KEY, None)
        if ids:
            dispatch(app, ids)

    @event.listens_for(session_factory, "after_soft_rollback")
    def _after_rollback(session: Session, previous_transaction) -> None:
        session.info.pop(SESSION_KEY, None)
