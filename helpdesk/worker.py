"""The due-work loop: outbox items whose hand-off was lost or whose retry is due, and
periodic tasks. `flask worker` and `flask serve` run it; any number may run at once."""

import logging
import threading

from flask import Flask

from helpdesk import periodic
from helpdesk.extensions import db
from helpdesk.outbox.runner import run_due

log = logging.getLogger(__name__)


def run_due_work_once() -> dict:
    """One pass: every due outbox item, then every due periodic task."""
    ran = 0
    while True:
        batch = run_due(limit=100)
        ran += batch
        if batch < 100:
            break
    tasks = periodic.run_due_tasks()
    db.session.remove()
    return {"outbox": ran, "periodic": tasks}


def due_work_loop(app: Flask, stop: threading.Event, interval: float = 5.0) -> None:
    while not stop.is_set():
        try:
            with app.app_context():
                run_due_work_once()
        except Exception:  # the database may be briefly away; try again next round
            log.exception("due-work pass failed")
        stop.wait(interval)


def start_background_loop(app: Flask, interval: float = 5.0) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=due_work_loop, args=(app, stop, interval), name="due-work", daemon=True
    )
    thread.start()
    return stop
