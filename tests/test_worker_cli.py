"""`flask worker`: RQ jobs when there is Redis, the due-work loop always, and periodic tasks that
only one of several workers runs."""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from rq import Queue
from sqlalchemy import func, select, update

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.jobs import QUEUE_NAME, redis_connection
from helpdesk.notifications import ACKNOWLEDGE
from helpdesk.outbox.models import OutboxItem, OutboxStatus, PeriodicRun
from helpdesk.tickets.models import AuditEvent, Ticket
from helpdesk.tickets.services import change_status
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow
from helpdesk.worker import run_due_work_once
from tests.conftest import smtp_config
from tests.servers import HOST, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTO_CLOSE = "tickets.auto_close"


@pytest.fixture
def app_config(app_config, smtp):
    """Real mail to the test SMTP server (Flask-Mail would suppress it under TESTING)."""
    return {
        **app_config,
        **smtp_config(smtp),
        "MAIL_DEFAULT_SENDER": "support@example.test",
        "HELPDESK_REOPEN_DAYS": 3,
    }


@pytest.fixture
def rq_queue(app_config, redis_url) -> Queue:
    """Dispatch to RQ; request it before `app` (or `make`) so the app is built with it."""
    app_config.update(OUTBOX_DISPATCH="rq", REDIS_URL=redis_url)
    q = Queue(QUEUE_NAME, connection=redis_connection(redis_url))
    q.connection.flushdb()  # no jobs or registries left over from other tests
    return q


def _closed_port_url() -> str:
    return f"redis://{HOST}:{free_port()}/0"


@pytest.fixture
def redis_down(app_config) -> None:
    """RQ dispatch to a port nobody listens on; request it before `app` (or `make`)."""
    app_config.update(OUTBOX_DISPATCH="rq", REDIS_URL=_closed_port_url())


def _ack_statuses() -> list[OutboxStatus]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(OutboxItem.status).where(OutboxItem.kind == ACKNOWLEDGE).order_by(OutboxItem.id)
        ).scalars()
    )


def _pending_count() -> int:
    """Every pending item, not only ours: other subscribers (webhooks, ...) add their own."""
    return db.session.execute(
        select(func.count())
        .select_from(OutboxItem)
        .where(OutboxItem.status == OutboxStatus.PENDING)
    ).scalar_one()


def _mails_to(smtp, address: str) -> int:
    return sum(1 for m in smtp.messages if m.rcpt_tos == [address])


def test_burst_without_redis_runs_due_work_and_says_what_it_did(runner, smtp, make):
    make.ticket(requester=make.customer(email="ann@example.test"), subject="Printer on fire")
    db.session.commit()
    due = _pending_count()

    result = runner.invoke(args=["worker", "--burst"])

    assert result.exit_code == 0, result.output
    assert f"due work: {due} outbox item(s) run; periodic tasks: " in result.output
    assert AUTO_CLOSE in result.output
    assert "rq:" not in result.output
    assert _mails_to(smtp, "ann@example.test") == 1
    assert _ack_statuses() == [OutboxStatus.DONE]

    again = runner.invoke(args=["worker", "--burst"])
    assert "due work: 0 outbox item(s) run; periodic tasks: none due" in again.output
    assert _mails_to(smtp, "ann@example.test") == 1


def test_burst_with_redis_runs_queued_jobs_then_due_work(rq_queue, runner, smtp, make):
    make.ticket(requester=make.customer(email="bo@example.test"), subject="Queued in Redis")
    db.session.commit()
    queued = rq_queue.count
    assert queued == _pending_count() >= 1

    result = runner.invoke(args=["worker", "--burst"])

    assert result.exit_code == 0, result.output
    assert f"rq: {queued} job(s) done, 0 failed" in result.output
    assert "due work: 0 outbox item(s) run" in result.output
    assert rq_queue.count == 0
    assert _mails_to(smtp, "bo@example.test") == 1
    assert _ack_statuses() == [OutboxStatus.DONE]


def test_burst_with_redis_down_still_runs_due_work_and_fails(redis_down, runner, smtp, make):
    make.ticket(requester=make.customer(email="cy@example.test"), subject="Redis is away")
    db.session.commit()
    due = _pending_count()

    result = runner.invoke(args=["worker", "--burst"])

    assert result.exit_code == 1
    assert "rq: Redis unreachable" in result.output
    assert f"due work: {due} outbox item(s) run" in result.output
    assert _mails_to(smtp, "cy@example.test") == 1
    assert _ack_statuses() == [OutboxStatus.DONE]


def test_worker_keeps_delivering_while_redis_is_down_at_start(app, migrated, smtp, make, tmp_path):
    make.ticket(requester=make.customer(email="di@example.test"), subject="Without Redis")
    db.session.commit()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}},
        "DATABASE_URL": migrated,
        "REDIS_URL": _closed_port_url(),
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": str(smtp.port),
        "HELPDESK_STORAGE": str(tmp_path / "storage"),
        "SECRET_KEY": "worker-test-secret",
        "HELPDESK_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PYTHONPATH": ROOT,
    }
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "helpdesk", "worker", "--interval", "0.1"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            # The mail leaves before the worker records it: wait for the record, and for the
            # worker to have said why RQ is not running.
            _wait_until(lambda: _ack_statuses() == [OutboxStatus.DONE], timeout=30)
            _wait_until(lambda: "rq: Redis unreachable" in log_path.read_text(), timeout=30)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    assert "rq: Redis unreachable" in log_path.read_text()
    assert _mails_to(smtp, "di@example.test") == 1
    assert _ack_statuses() == [OutboxStatus.DONE]


def _wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot each round
        time.sleep(0.02)


def _resolved_days_ago(make, agent, days: float, subject: str) -> Ticket:
    ticket = make.ticket(subject=subject)
    change_status(ticket, Actor.for_user(agent), Status.RESOLVED)
    ticket.resolved_at = utcnow() - timedelta(days=days)  # travel back instead of waiting
    db.session.commit()
    return ticket


def test_auto_close_closes_tickets_resolved_longer_ago_than_the_reopen_window(runner, make):
    agent = make.agent()
    stale = _resolved_days_ago(make, agent, 4, "Resolved four days ago").id
    recent = _resolved_days_ago(make, agent, 2, "Resolved two days ago").id

    result = runner.invoke(args=["worker", "--burst"])

    assert result.exit_code == 0, result.output
    assert AUTO_CLOSE in result.output
    db.session.expire_all()
    assert db.session.get(Ticket, stale).status == Status.CLOSED
    assert db.session.get(Ticket, recent).status == Status.RESOLVED


def _race_two_passes(app) -> list[dict]:
    start = threading.Barrier(2, timeout=10)
    results: list[dict] = []
    errors: list[BaseException] = []

    def one_pass() -> None:
        try:
            with app.app_context():
                start.wait()
                results.append(run_due_work_once())
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=one_pass) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    return results


def _closings(ticket_id: int) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.ticket_id == ticket_id,
            AuditEvent.action == "status",
            AuditEvent.new_value == Status.CLOSED.value,
        )
    ).scalar_one()


def test_auto_close_is_claimed_by_only_one_of_two_concurrent_passes(app, make):
    agent = make.agent()
    first = _resolved_days_ago(make, agent, 5, "First round").id

    # The very first run: both passes try to create the task's schedule row.
    results = _race_two_passes(app)
    assert sorted(AUTO_CLOSE in r["periodic"] for r in results) == [False, True]
    assert _closings(first) == 1

    # A later run: both passes try to move the existing schedule forward.
    second = _resolved_days_ago(make, agent, 5, "Second round").id
    db.session.execute(
        update(PeriodicRun)
        .where(PeriodicRun.name == AUTO_CLOSE)
        .values(next_run_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    results = _race_two_passes(app)
    assert sorted(AUTO_CLOSE in r["periodic"] for r in results) == [False, True]
    assert _closings(second) == 1
    assert db.session.get(Ticket, second).status == Status.CLOSED
