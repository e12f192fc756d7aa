"""The durable outbox: side effects run once after the commit, retry with back-off, survive a
crash between the commit and the hand-off, and never run twice for one claim."""

import email
import email.policy
import os
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from rq import Queue
from sqlalchemy import select, update

from helpdesk import outbox
from helpdesk.extensions import db
from helpdesk.jobs import QUEUE_NAME, redis_connection
from helpdesk.notifications import ACKNOWLEDGE
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.outbox.runner import BACKOFF, handler, resend, run_item
from helpdesk.timeutil import utcnow
from helpdesk.worker import run_due_work_once
from tests.conftest import smtp_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAKY = "test.flaky"
COUNTED = "test.counted"
BLOCKING = "test.blocking"

# Test-only handlers, registered through the public registration API.
calls: dict[str, int] = {}
flaky_should_fail = threading.Event()
blocking_release = threading.Event()


@handler(FLAKY)
def _flaky(payload: dict) -> str:
    calls[FLAKY] = calls.get(FLAKY, 0) + 1
    if flaky_should_fail.is_set():
        raise RuntimeError("the far end is down")
    return "delivered"


@handler(COUNTED)
def _counted(payload: dict) -> str:
    calls[COUNTED] = calls.get(COUNTED, 0) + 1
    return "counted"


@handler(BLOCKING)
def _blocking(payload: dict) -> str:
    calls[BLOCKING] = calls.get(BLOCKING, 0) + 1
    # Hold the claim until the rival has tried (bounded, so a bug fails instead of hanging).
    blocking_release.wait(10)
    return "held"


@pytest.fixture(autouse=True)
def _reset_handlers():
    calls.clear()
    flaky_should_fail.clear()
    blocking_release.clear()


@pytest.fixture
def app_config(app_config, smtp):
    """Real mail to the test SMTP server (Flask-Mail would suppress it under TESTING)."""
    return {
        **app_config,
        **smtp_config(smtp),
        "MAIL_DEFAULT_SENDER": "support@example.test",
    }


@pytest.fixture
def rq_queue(app_config, redis_url) -> Queue:
    """Dispatch to RQ; request it before `app` (or `make`) so the app is built with it."""
    app_config.update(OUTBOX_DISPATCH="rq", REDIS_URL=redis_url)
    q = Queue(QUEUE_NAME, connection=redis_connection(redis_url))
    q.connection.flushdb()  # no jobs or registries left over from other tests
    return q


@pytest.fixture
def thread_dispatch(app_config) -> None:
    """Dispatch to the in-process pool; request it before `app` (or `make`)."""
    app_config["OUTBOX_DISPATCH"] = "thread"


def _row(item_id: int) -> OutboxItem:
    db.session.expire_all()
    return db.session.get(OutboxItem, item_id)


def _make_due(item_id: int) -> None:
    """Move a scheduled retry into the past instead of waiting for it."""
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id)
        .values(run_after=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def _ack_items() -> list[OutboxItem]:
    db.session.expire_all()
    return list(
        db.session.execute(select(OutboxItem).where(OutboxItem.kind == ACKNOWLEDGE)).scalars()
    )


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_item_runs_once_after_commit_and_is_marked_done(app):
    item = outbox.enqueue(COUNTED, {"n": 1})
    db.session.commit()

    assert run_item(item.id) is True
    assert run_item(item.id) is False

    row = _row(item.id)
    assert calls[COUNTED] == 1
    assert row.status == OutboxStatus.DONE
    assert row.attempts == 1
    assert row.result == "counted"
    assert row.done_at is not None and row.locked_until is None


def test_failing_item_backs_off_then_dies_and_resend_revives_it(app):
    flaky_should_fail.set()
    item_id = outbox.enqueue(FLAKY, {}).id
    db.session.commit()

    for attempt, wait in enumerate(BACKOFF, start=1):
        before = utcnow()
        assert run_item(item_id) is True
        row = _row(item_id)
        assert row.status == OutboxStatus.PENDING
        assert row.attempts == attempt
        assert "RuntimeError: the far end is down" in row.last_error
        assert before + wait <= row.run_after <= utcnow() + wait
        assert run_item(item_id) is False  # not due before its back-off has passed
        _make_due(item_id)

    assert run_item(item_id) is True
    row = _row(item_id)
    assert row.status == OutboxStatus.DEAD
    assert row.attempts == len(BACKOFF) + 1
    assert run_due_work_once()["outbox"] == 0  # dead items wait for an operator

    flaky_should_fail.clear()
    resend(item_id)
    db.session.commit()
    assert run_due_work_once()["outbox"] == 1
    row = _row(item_id)
    assert row.status == OutboxStatus.DONE
    assert row.result == "delivered"
    assert calls[FLAKY] == len(BACKOFF) + 2


def test_two_workers_racing_for_one_item_run_it_once(app):
    item_id = outbox.enqueue(BLOCKING, {}).id
    db.session.commit()
    start = threading.Barrier(2, timeout=10)
    results: list[bool] = []
    errors: list[BaseException] = []

    def contender() -> None:
        try:
            with app.app_context():
                start.wait()
                results.append(run_item(item_id))
            blocking_release.set()  # this one has tried: the winner may finish
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)
            blocking_release.set()

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert not errors
    assert sorted(results) == [False, True]
    assert calls[BLOCKING] == 1
    assert _row(item_id).status == OutboxStatus.DONE


def test_expired_lease_is_picked_up_again_but_a_live_one_is_not(app):
    abandoned = outbox.enqueue(COUNTED, {"n": "abandoned"}).id
    held = outbox.enqueue(COUNTED, {"n": "held"}).id
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == abandoned)
        .values(status=OutboxStatus.RUNNING, attempts=1, locked_until=utcnow() - timedelta(1))
    )
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == held)
        .values(status=OutboxStatus.RUNNING, attempts=1, locked_until=utcnow() + timedelta(1))
    )
    db.session.commit()

    assert run_due_work_once()["outbox"] == 1

    assert calls[COUNTED] == 1
    assert _row(abandoned).status == OutboxStatus.DONE
    assert _row(abandoned).attempts == 2
    assert _row(held).status == OutboxStatus.RUNNING


def _outbox_ids() -> list[int]:
    return sorted(db.session.execute(select(OutboxItem.id)).scalars())


def _queued_ids(q: Queue) -> list[int]:
    return sorted(job.args[0] for job in q.jobs)


def test_rolled_back_ticket_leaves_no_outbox_row_and_queues_no_job(rq_queue, make):
    make.ticket(subject="Never mind")
    assert len(_ack_items()) == 1
    db.session.rollback()
    make.customer()  # an unrelated change, so a commit happens after the rollback
    db.session.commit()

    assert _ack_items() == []
    assert _queued_ids(rq_queue) == _outbox_ids()  # a job for each committed row, no more


def test_released_savepoint_hands_nothing_off_before_the_commit(rq_queue, make):
    make.ticket(subject="Not yet")
    with db.session.begin_nested():
        make.customer()
    [item] = _ack_items()

    assert rq_queue.count == 0  # the outer transaction could still roll back
    db.session.commit()
    assert item.id in _queued_ids(rq_queue)


def test_rolled_back_savepoint_keeps_the_items_enqueued_before_it(rq_queue, make):
    make.ticket(subject="Still wanted")
    savepoint = db.session.begin_nested()
    make.customer()
    savepoint.rollback()
    db.session.commit()

    [item] = _ack_items()
    assert item.id in _queued_ids(rq_queue)


def _wait_for_status(item_id: int, status: OutboxStatus, timeout: float = 10) -> OutboxItem:
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()  # a fresh snapshot each round
        row = _row(item_id)
        if row.status == status or time.monotonic() > deadline:
            return row
        time.sleep(0.02)


def _mails_to(smtp, address: str) -> list[email.message.EmailMessage]:
    return [_parse(m.content) for m in smtp.messages if m.rcpt_tos == [address]]


def test_thread_dispatch_sends_the_acknowledgement_after_commit(thread_dispatch, smtp, make):
    customer = make.customer(email="ada@example.test", name="Ada")
    number = make.ticket(requester=customer, subject="VPN drops every hour").number
    db.session.commit()
    [item] = _ack_items()

    assert _wait_for_status(item.id, OutboxStatus.DONE).status == OutboxStatus.DONE
    [mail] = _mails_to(smtp, "ada@example.test")
    assert f"[#{number}]" in mail["Subject"] and "VPN drops every hour" in mail["Subject"]
    assert mail["Auto-Submitted"] == "auto-replied"
    assert f"#{number}" in mail.get_body(preferencelist=("plain",)).get_content()


CRASHING_CHILD = textwrap.dedent(
    """
    import os
    from helpdesk import create_app
    from helpdesk.accounts.actor import Actor
    from helpdesk.contacts.services import find_or_create_contact
    from helpdesk.extensions import db
    from helpdesk.tickets.models import Channel
    from helpdesk.tickets.services import open_ticket

    # "none": nothing is handed off after the commit, exactly as if the process died before
    # its dispatch thread got to run (with "thread" that would be a race, not a test).
    app = create_app({"OUTBOX_DISPATCH": "none"})
    with app.app_context():
        requester = find_or_create_contact("grace@example.test", "Grace")
        ticket = open_ticket(
            Actor.system(), requester=requester, subject="Crashed right after commit",
            body="Is anyone there?", channel=Channel.EMAIL,
        )
        print(ticket.number, flush=True)
        db.session.commit()
        os._exit(0)
    """
)


def test_process_dying_after_commit_still_sends_the_acknowledgement_once(
    app, migrated, smtp, runner, tmp_path
):
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}},
        "DATABASE_URL": migrated,
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": str(smtp.port),
        "HELPDESK_STORAGE": str(tmp_path / "storage"),
        "SECRET_KEY": "crash-test-secret",
        "HELPDESK_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PYTHONPATH": ROOT,
    }
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_CHILD],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    number = int(child.stdout.strip())
    [item] = _ack_items()
    item_id = item.id
    assert item.status == OutboxStatus.PENDING
    assert _mails_to(smtp, "grace@example.test") == []

    first = runner.invoke(args=["worker", "--burst"])
    assert first.exit_code == 0, first.output
    [mail] = _mails_to(smtp, "grace@example.test")
    assert f"[#{number}]" in mail["Subject"] and "Crashed right after commit" in mail["Subject"]
    assert _row(item_id).status == OutboxStatus.DONE

    second = runner.invoke(args=["worker", "--burst"])
    assert second.exit_code == 0, second.output
    assert len(_mails_to(smtp, "grace@example.test")) == 1
