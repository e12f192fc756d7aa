"""RQ as the outbox's runner: a commit becomes a job, a worker delivers it once, and a Redis
outage delays side effects (the due-work loop delivers them) without failing the commit."""

import email
import email.policy

import pytest
from rq import Queue, SimpleWorker
from rq.job import JobStatus
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from helpdesk import outbox
from helpdesk.extensions import db
from helpdesk.jobs import QUEUE_NAME, redis_connection
from helpdesk.notifications import ACKNOWLEDGE
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.outbox.runner import handler
from helpdesk.worker import run_due_work_once
from tests.conftest import smtp_config
from tests.servers import HOST, free_port

BREAKS_SESSION = "test.breaks_session"


@handler(BREAKS_SESSION)
def _breaks_session(payload: dict) -> str:
    """A buggy handler: it swallows a failed flush and leaves its session unusable."""
    try:
        db.session.add(OutboxItem(kind=None, payload="{}"))
        db.session.flush()
    except IntegrityError:
        pass
    return "pretended all was well"


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
def redis_down(app_config) -> str:
    """RQ dispatch to a port nobody listens on; request it before `app` (or `make`)."""
    url = f"redis://{HOST}:{free_port()}/0"
    app_config.update(OUTBOX_DISPATCH="rq", REDIS_URL=url)
    return url


def _ack() -> OutboxItem:
    db.session.expire_all()
    return db.session.execute(select(OutboxItem).where(OutboxItem.kind == ACKNOWLEDGE)).scalar_one()


def _outbox_count(*statuses: OutboxStatus) -> int:
    """Every item, not only ours: other subscribers (webhooks, ...) add their own."""
    return db.session.execute(
        select(func.count()).select_from(OutboxItem).where(OutboxItem.status.in_(statuses))
    ).scalar_one()


def _mails_to(smtp, address: str) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(m.content, policy=email.policy.default)
        for m in smtp.messages
        if m.rcpt_tos == [address]
    ]


def _job_for(q: Queue, item_id: int):
    [job] = [job for job in q.jobs if job.args == (item_id,)]
    return job


def test_committed_ticket_becomes_a_job_that_a_worker_delivers_once(rq_queue, smtp, make):
    customer = make.customer(email="lin@example.test")
    number = make.ticket(requester=customer, subject="Invoice missing").number
    db.session.commit()
    item_id = _ack().id

    job = _job_for(rq_queue, item_id)
    assert job.func_name == "helpdesk.jobs.run_outbox_item"
    assert rq_queue.count == _outbox_count(OutboxStatus.PENDING)  # one job per item

    worker = SimpleWorker([rq_queue], connection=rq_queue.connection)
    assert worker.work(burst=True)

    [mail] = _mails_to(smtp, "lin@example.test")
    assert f"[#{number}]" in mail["Subject"] and "Invoice missing" in mail["Subject"]
    assert job.get_status(refresh=True) == JobStatus.FINISHED
    assert _ack().status == OutboxStatus.DONE
    assert rq_queue.count == 0
    assert run_due_work_once()["outbox"] == 0
    assert len(_mails_to(smtp, "lin@example.test")) == 1


def test_same_item_queued_twice_is_delivered_once(rq_queue, smtp, make):
    customer = make.customer(email="mo@example.test")
    make.ticket(requester=customer, subject="Two jobs, one mail")
    db.session.commit()
    item_id = _ack().id
    first = _job_for(rq_queue, item_id)
    again = rq_queue.enqueue("helpdesk.jobs.run_outbox_item", item_id)  # e.g. a re-dispatch

    SimpleWorker([rq_queue], connection=rq_queue.connection).work(burst=True)

    assert len(_mails_to(smtp, "mo@example.test")) == 1
    assert (first.return_value(), again.return_value()) == (True, False)


def test_a_job_that_breaks_its_session_does_not_break_the_next_job(rq_queue, smtp, make):
    broken_id = outbox.enqueue(BREAKS_SESSION, {}).id
    customer = make.customer(email="kim@example.test")
    make.ticket(requester=customer, subject="After the broken job")
    db.session.commit()
    assert [job.args for job in rq_queue.jobs][0] == (broken_id,)  # it runs first

    SimpleWorker([rq_queue], connection=rq_queue.connection).work(burst=True)

    assert len(_mails_to(smtp, "kim@example.test")) == 1
    assert _ack().status == OutboxStatus.DONE
    broken = db.session.get(OutboxItem, broken_id)
    assert broken.status == OutboxStatus.PENDING  # recorded as failed, to be retried
    assert "PendingRollbackError" in broken.last_error  # the broken session, named


def test_healthz_reports_the_rq_queue_and_its_length(rq_queue, client, make):
    make.ticket()
    db.session.commit()
    queued = _outbox_count(OutboxStatus.PENDING)
    assert queued >= 1

    response = client.get("/healthz")

    assert response.status_code == 200
    queue = response.get_json()["queue"]
    assert (queue["status"], queue["backend"], queue["queued"]) == ("ok", "rq", queued)


def test_redis_outage_keeps_the_commit_and_due_work_delivers_later(redis_down, smtp, client, make):
    customer = make.customer(email="sam@example.test")
    number = make.ticket(requester=customer, subject="Sent while Redis was down").number
    db.session.commit()  # the hand-off fails after the commit; the commit stands

    assert _ack().status == OutboxStatus.PENDING
    pending = _outbox_count(OutboxStatus.PENDING)
    assert smtp.messages == []
    health = client.get("/healthz")
    assert health.status_code == 503
    body = health.get_json()
    assert body["status"] == "error"
    assert (body["queue"]["status"], body["queue"]["backend"]) == ("error", "rq")
    assert body["queue"]["error"] == "ConnectionError"
    assert body["outbox"]["pending"] == pending

    assert run_due_work_once()["outbox"] == pending

    [mail] = _mails_to(smtp, "sam@example.test")
    assert f"[#{number}]" in mail["Subject"] and "Sent while Redis was down" in mail["Subject"]
    assert _ack().status == OutboxStatus.DONE
