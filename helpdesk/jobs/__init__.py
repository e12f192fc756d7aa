"""RQ jobs. Each takes ids, loads, calls a service, commits; errors are recorded, not hidden."""

from flask import Flask, current_app
from redis import Redis
from rq import Queue

QUEUE_NAME = "helpdesk"


def redis_connection(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)


def queue(app: Flask | None = None) -> Queue:
    app = app or current_app
    return Queue(QUEUE_NAME, connection=redis_connection(app.config["REDIS_URL"]))


def enqueue_outbox_items(app: Flask, item_ids: list[int]) -> None:
    q = queue(app)
    for item_id in item_ids:
        q.enqueue(run_outbox_item, item_id, job_timeout=600, result_ttl=3600)


def run_outbox_item(item_id: int) -> bool:
    """RQ entry point: run one outbox item in the worker's app context."""
    from helpdesk.outbox.runner import run_item

    return run_item(item_id)
