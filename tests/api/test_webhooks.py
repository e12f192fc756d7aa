"""Webhooks end to end: a real HTTP receiver on 127.0.0.1 checks signatures, order and
retries; deliveries are run by the outbox exactly as the worker runs them."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.outbox.runner import BACKOFF, run_due
from helpdesk.timeutil import utcnow
from helpdesk.webhooks.delivery import FANOUT
from helpdesk.webhooks.services import DELIVER, PAUSED_NOTICE
from helpdesk.webhooks.signing import verify
from tests.api.conftest import assert_error

ALL_EVENTS = [
    "ticket.created",
    "ticket.updated",
    "ticket.status_changed",
    "ticket.assigned",
    "ticket.message_added",
]


class Receiver:
    """An HTTP endpoint that records every delivery and fails on request."""

    def __init__(self):
        self.received: list[dict] = []
        self.failures_left = 0  # answer 500 to this many requests first
        self.always_fail = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    fail = receiver.always_fail or receiver.failures_left > 0
                    receiver.failures_left = max(0, receiver.failures_left - 1)
                    receiver.received.append(
                        {
                            "headers": dict(self.headers),
                            "body": body,
                            "answered": 500 if fail else 204,
                        }
                    )
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/helpdesk"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def _drain(limit_passes: int = 10) -> None:
    """Run what the outbox has due until nothing is left (fan-outs create deliveries)."""
    for _ in range(limit_passes):
        if run_due() == 0:
            return
    raise AssertionError("the outbox kept finding work")


def _make_retries_due() -> None:
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.kind == DELIVER, OutboxItem.status == OutboxStatus.PENDING)
        .values(run_after=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def _register(admin_api, url: str, events=ALL_EVENTS, **extra) -> dict:
    response = admin_api.post("/webhooks", json={"url": url, "events": events, **extra})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def test_deliveries_are_signed_ordered_and_a_failed_one_is_retried(api, make, receiver):
    admin_api, agent_api = api(make.admin()), api(make.agent())
    hook = _register(admin_api, receiver.url, secret="s3cret-shared-with-the-receiver")
    assert hook["secret"] == "s3cret-shared-with-the-receiver"
    receiver.failures_left = 1

    number = agent_api.post(
        "/tickets",
        json={"subject": "Webhooks!", "body": "Hello", "requester_email": "c@example.test"},
    ).get_json()["number"]
    agent_api.patch(f"/tickets/{number}", json={"status": "pending"})
    agent_api.post(f"/tickets/{number}/messages", json={"body": "Checked.", "kind": "note"})
    _drain()

    deliveries = admin_api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["items"]
    by_event = {d["event"]: d for d in deliveries}
    assert set(by_event) == {"ticket.created", "ticket.status_changed", "ticket.message_added"}
    first = by_event["ticket.created"]
    assert (first["status"], first["attempts"], first["response_code"]) == ("pending", 1, 500)
    assert by_event["ticket.status_changed"]["status"] == "delivered"

    _make_retries_due()
    _drain()

    first = admin_api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["items"][-1]
    assert (first["status"], first["attempts"], first["response_code"]) == ("delivered", 2, 204)
    assert len(receiver.received) == 4
    stamps = []
    for request in receiver.received:
        headers, body = request["headers"], request["body"]
        assert verify(
            hook["secret"], headers["X-Helpdesk-Timestamp"], body, headers["X-Helpdesk-Signature"]
        )
        assert not verify(
            "another secret", headers["X-Helpdesk-Timestamp"], body, headers["X-Helpdesk-Signature"]
        )
        payload = json.loads(body)
        assert payload["event"] == headers["X-Helpdesk-Event"]
        assert payload["ticket"]["number"] == number
        stamps.append(int(headers["X-Helpdesk-Timestamp"]))
    assert stamps == sorted(stamps)
    # The retry is the same delivery with the same body, signed anew.
    retried = [r for r in receiver.received if r["headers"]["X-Helpdesk-Event"] == "ticket.created"]
    assert [r["answered"] for r in retried] == [500, 204]
    assert retried[0]["body"] == retried[1]["body"]
    assert (
        retried[0]["headers"]["X-Helpdesk-Delivery"] == retried[1]["headers"]["X-Helpdesk-Delivery"]
    )
    # Events happened in this order, and their bodies say so.
    occurred = {
        json.loads(r["body"])["event"]: json.loads(r["body"])["occurred_at"]
        for r in receiver.received
    }
    assert (
        occurred["ticket.created"]
        < occurred["ticket.status_changed"]
        < occurred["ticket.message_added"]
    )
    status_change = json.loads(
        next(
            r["body"]
            for r in receiver.received
            if r["headers"]["X-Helpdesk-Event"] == "ticket.status_changed"
        )
    )
    assert status_change["changes"] == {"old": "new", "new": "pending"}
    note = next(
        json.loads(r["body"])
        for r in receiver.received
        if r["headers"]["X-Helpdesk-Event"] == "ticket.message_added"
    )
    assert note["message"]["kind"] == "note" and note["message"]["body_text"] == "Checked."


def test_only_subscribed_events_are_sent(api, make, receiver):
    admin_api, agent_api = api(make.admin()), api(make.agent())
    _register(admin_api, receiver.url, events=["ticket.assigned"])
    agent = make.agent()
    db.session.commit()

    number = agent_api.post(
        "/tickets", json={"subject": "s", "body": "b", "requester_email": "c@example.test"}
    ).get_json()["number"]
    agent_api.patch(f"/tickets/{number}", json={"assignee": agent.id})
    _drain()

    assert [r["headers"]["X-Helpdesk-Event"] for r in receiver.received] == ["ticket.assigned"]
    assert json.loads(receiver.received[0]["body"])["changes"] == {"assignee_id": agent.id}


def test_a_delivery_failing_every_retry_is_marked_failed_and_can_be_resent(api, make, receiver):
    admin_api = api(make.admin())
    hook = _register(admin_api, receiver.url, events=["ticket.created"])
    receiver.always_fail = True
    make.ticket()
    db.session.commit()
    _drain()
    item = db.session.execute(select(OutboxItem).where(OutboxItem.kind == DELIVER)).scalar_one()
    # Pretend every earlier retry was used up: the next attempt is the last.
    db.session.execute(
        update(OutboxItem).where(OutboxItem.id == item.id).values(attempts=len(BACKOFF))
    )
    _make_retries_due()
    _drain()

    delivery = admin_api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["items"][0]
    assert delivery["status"] == "failed" and delivery["error"] == "HTTP 500"
    db.session.expire_all()
    assert db.session.get(OutboxItem, item.id).status == OutboxStatus.DEAD

    receiver.always_fail = False
    resent = admin_api.post(f"/webhooks/{hook['id']}/deliveries/{delivery['id']}/resend")
    assert resent.status_code == 202 and resent.get_json()["status"] == "pending"
    _drain()
    again = admin_api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["items"][0]
    assert again["status"] == "delivered" and again["response_code"] == 204


@pytest.fixture
def app_config(app_config, smtp):
    smtp.clear()
    return {
        **app_config,
        "HELPDESK_WEBHOOKS_MAX_FAILURES": 3,
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": smtp.port,
        "MAIL_SUPPRESS_SEND": False,
        "MAIL_DEFAULT_SENDER": "support@example.test",
    }


def test_an_endpoint_that_keeps_failing_is_paused_and_admins_are_told(api, make, receiver, smtp):
    admin = make.admin(email="boss@example.test")
    admin_api = api(admin)
    hook = _register(admin_api, receiver.url, events=["ticket.created"])
    receiver.always_fail = True
    make.ticket()
    db.session.commit()

    _drain()
    for _ in range(2):
        _make_retries_due()
        _drain()

    paused = admin_api.get(f"/webhooks/{hook['id']}").get_json()
    assert paused["active"] is False and paused["consecutive_failures"] == 3
    assert "3 failed attempts" in paused["paused_reason"]
    assert len(receiver.received) == 3
    mails = [m for m in smtp.wait_for(1) if m.rcpt_tos == ["boss@example.test"]]
    assert len(mails) == 1 and b"Webhook paused" in mails[0].content
    notices = db.session.execute(select(OutboxItem).where(OutboxItem.kind == PAUSED_NOTICE)).all()
    assert len(notices) == 1

    make.ticket()  # nothing goes to a paused endpoint
    db.session.commit()
    _drain()
    assert len(receiver.received) == 3

    resumed = admin_api.patch(f"/webhooks/{hook['id']}", json={"active": True}).get_json()
    assert resumed["active"] is True and resumed["consecutive_failures"] == 0


def test_only_admins_manage_webhooks(api, make, receiver):
    for user in (make.agent(), make.customer()):
        client = api(user)
        assert_error(client.get("/webhooks"), 403, "forbidden")
        assert_error(
            client.post("/webhooks", json={"url": receiver.url, "events": ALL_EVENTS}), 403
        )


def test_admin_lists_changes_and_deletes_webhooks(api, make, receiver):
    admin_api = api(make.admin())
    hook = _register(admin_api, receiver.url, description="CRM sync")

    listed = admin_api.get("/webhooks").get_json()["items"]
    assert [(h["id"], h["description"]) for h in listed] == [(hook["id"], "CRM sync")]
    assert "secret" not in listed[0]
    changed = admin_api.patch(f"/webhooks/{hook['id']}", json={"events": ["ticket.created"]})
    assert changed.get_json()["events"] == ["ticket.created"]
    assert (
        "events.0"
        in assert_error(admin_api.patch(f"/webhooks/{hook['id']}", json={"events": ["nope"]}), 422)[
            "fields"
        ]
    )

    assert admin_api.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert_error(admin_api.get(f"/webhooks/{hook['id']}"), 404)


def test_fan_out_without_endpoints_sends_nothing(make):
    make.ticket()
    db.session.commit()
    _drain()

    fanouts = (
        db.session.execute(select(OutboxItem).where(OutboxItem.kind == FANOUT)).scalars().all()
    )
    assert [f.result for f in fanouts] == ["no endpoint subscribed"]


def test_a_target_that_turns_private_is_not_called(app, api, make, receiver):
    admin_api = api(make.admin())
    hook = _register(admin_api, receiver.url, events=["ticket.created"])
    # As if the host's DNS now pointed inside the network: checked again before each send.
    app.config["HELPDESK_WEBHOOKS_ALLOW_PRIVATE"] = False
    make.ticket()
    db.session.commit()

    _drain()

    delivery = admin_api.get(f"/webhooks/{hook['id']}/deliveries").get_json()["items"][0]
    assert delivery["status"] == "pending" and delivery["response_code"] is None
    assert "https" in delivery["error"]
    assert receiver.received == []
