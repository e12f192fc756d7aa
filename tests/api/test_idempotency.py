"""Idempotency-Key on POST: a retried create does not create twice, even when the retry
races the original."""

import threading

import requests
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from tests.api.conftest import assert_error, live_server, token_for


def test_repeated_post_with_the_same_idempotency_key_creates_one_ticket(api, make):
    customer = make.customer()
    db.session.commit()
    client = api(customer)
    body = {"subject": "Only once", "body": "Please."}
    headers = {"Idempotency-Key": "create-42"}

    first = client.post("/tickets", json=body, headers=headers)
    again = client.post("/tickets", json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    count = db.session.execute(select(Ticket).where(Ticket.subject == "Only once")).all()
    assert len(count) == 1

    changed = client.post("/tickets", json={**body, "body": "Twice?"}, headers=headers)
    assert_error(changed, 422, "idempotency_key_reused")
    other_key = client.post("/tickets", json=body, headers={"Idempotency-Key": "create-43"})
    assert (
        other_key.status_code == 201
        and other_key.get_json()["number"] != first.get_json()["number"]
    )


def test_idempotency_keys_are_per_user(api, make):
    alice, bob = make.customer(), make.customer()
    db.session.commit()
    headers = {"Idempotency-Key": "same"}
    body = {"subject": "Mine", "body": "Text"}

    a = api(alice).post("/tickets", json=body, headers=headers)
    b = api(bob).post("/tickets", json=body, headers=headers)

    assert a.status_code == b.status_code == 201
    assert a.get_json()["number"] != b.get_json()["number"]


def test_a_failed_request_does_not_use_up_its_idempotency_key(api, make):
    agent = make.agent()
    db.session.commit()
    client = api(agent)
    headers = {"Idempotency-Key": "retry-me"}

    assert (
        client.post("/tickets", json={"subject": "s", "body": "b"}, headers=headers).status_code
        == 422
    )
    body = {"subject": "s", "body": "b", "requester_email": "x@example.test"}
    assert client.post("/tickets", json=body, headers=headers).status_code == 201


def test_concurrent_requests_with_one_key_create_one_ticket(app, make):
    customer = make.customer()
    db.session.commit()
    headers = {"Authorization": f"Bearer {token_for(customer)}", "Idempotency-Key": "race-1"}
    body = {"subject": "Sent twice at once", "body": "Flaky network."}
    start = threading.Barrier(4)
    answers = []

    def send(url):
        start.wait(10)
        answers.append(requests.post(url, json=body, headers=headers, timeout=30))

    with live_server(app) as base:
        threads = [
            threading.Thread(target=send, args=(f"{base}/api/v1/tickets",)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["number"] for a in answers}) == 1
    db.session.expire_all()
    created = db.session.execute(
        select(func.count()).select_from(Ticket).where(Ticket.subject == "Sent twice at once")
    ).scalar_one()
    assert created == 1
