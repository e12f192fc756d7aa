"""RQ jobs. Each takes ids, loads, calls a service, commits; errors are recorded, not hidden."""

from flask import Flask, current_app
from redis import Redis
from rq import Queue

QUEUE_NAME = "helpdesk"


def redis_connection(url: str, timeout: float = 10) -> Redis:
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=min(timeout, 5))


def queue(app: Flask | None = None, timeout: float = 10) -> Queue:
    app = app or current_app
    return Queue(QUEUE_NAME, connection=redis_connection(app.config["REDIS_URL"], timeout))


def enqueue_outbox_items(app: Flask, item_ids: list[int]) -> None:
    # Runs inside a web request's commit: a hung Redis must not hold the request for long.
    # A lost hand-off is harmless, the due-work loop runs the committed row later.
    q = queue(app, timeout=2)
    for item_id in item_ids:
        q.enqueue(run_outbox_item, item_id, job_timeout=600, result_ttl=3600)


def run_outbox_item(item_id: int) -> bool:
    """RQ entry point: run one outbox item in the worker's app context."""
    from helpdesk.extensions import db
    from helpdesk.outbox.runner import run_item

    try:
        return run_item(item_id)
    finally:
        # The worker keeps one app context for all its jobs: a job that hit a database error
        # must not hand its failed session to the next one.
        db.session.remove()
