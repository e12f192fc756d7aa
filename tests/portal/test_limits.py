"""Rate limits on sign-up, reset and submission (per IP and per account or address), and CSRF
on the portal's forms."""

import re

import pytest
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from tests.conftest import PASSWORD
from tests.portal.conftest import page


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "RATELIMIT_ENABLED": True,
        "HELPDESK_SIGNUP_RATE_LIMIT": "2 per hour",
        "HELPDESK_RESET_RATE_LIMIT": "2 per hour",
        "HELPDESK_SUBMIT_RATE_LIMIT": "2 per hour",
        "HELPDESK_REPLY_RATE_LIMIT": "2 per hour",
    }


def _from(ip: str) -> dict:
    return {"REMOTE_ADDR": ip}


def _statuses(client, path, forms, ips):
    return [
        client.post(path, data=form, environ_base=_from(ip)).status_code
        for form, ip in zip(forms, ips, strict=True)
    ]


def test_sign_up_is_limited_per_ip_address(client):
    forms = [{"email": f"person{i}@example.test"} for i in range(3)]
    assert _statuses(client, "/signup", forms, ["10.0.0.1"] * 3) == [302, 302, 429]
    assert client.post("/signup", data=forms[0], environ_base=_from("10.0.0.2")).status_code == 302


def test_sign_up_is_limited_per_address_across_ip_addresses(client):
    forms = [{"email": "victim@example.test"}] * 3
    assert _statuses(client, "/signup", forms, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == [
        302,
        302,
        429,
    ]


def test_the_limit_page_says_to_wait(client):
    for i in range(2):
        client.post("/signup", data={"email": f"p{i}@example.test"})
    response = client.post("/signup", data={"email": "p3@example.test"})
    assert response.status_code == 429
    assert "Too many requests. Wait a minute and try again." in page(response)


def test_password_reset_is_limited_per_ip_and_per_address(client):
    forms = [{"email": f"r{i}@example.test"} for i in range(3)]
    assert _statuses(client, "/reset", forms, ["10.0.0.1"] * 3) == [302, 302, 429]
    same = [{"email": "target@example.test"}] * 3
    assert _statuses(client, "/reset", same, ["10.0.1.1", "10.0.1.2", "10.0.1.3"]) == [
        302,
        302,
        429,
    ]


def _submit(client, ip):
    data = {"subject": "Help", "body": "Please"}
    return client.post("/tickets/new", data=data, environ_base=_from(ip)).status_code


def test_submission_is_limited_per_account_across_ip_addresses(client, signed_in):
    signed_in()
    assert [_submit(client, ip) for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3")] == [302, 302, 429]
    assert db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 2


def test_submission_is_limited_per_ip_across_accounts(app, make):
    first, second = make.customer(), make.customer()
    db.session.commit()
    one, two = app.test_client(), app.test_client()
    for client, user in ((one, first), (two, second)):
        client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert [_submit(one, "10.9.9.9"), _submit(two, "10.9.9.9"), _submit(two, "10.9.9.9")] == [
        302,
        302,
        429,
    ]


def test_replies_are_limited_per_account(client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    signed_in(customer)
    codes = [
        client.post(
            f"/tickets/{ticket.number}/reply", data={"body": f"r{i}"}, environ_base=_from(ip)
        ).status_code
        for i, ip in enumerate(("10.0.0.1", "10.0.0.2", "10.0.0.3"))
    ]
    assert codes == [302, 302, 429]


def test_reading_is_never_limited(client, signed_in):
    signed_in()
    assert {client.get("/tickets/new").status_code for _ in range(5)} == {200}


# --- CSRF -----------------------------------------------------------------------------------


def _protect(app) -> None:
    """CSRF on, as in production (the suite's default config turns it off)."""
    app.config["WTF_CSRF_ENABLED"] = True


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_submitting_without_the_csrf_token_is_refused(app, client, signed_in):
    signed_in()
    _protect(app)
    response = client.post("/tickets/new", data={"subject": "Forged", "body": "Forged"})
    assert response.status_code == 400 and "The form expired" in page(response)
    assert db.session.execute(select(func.count()).select_from(Ticket)).scalar_one() == 0
    token = _token(page(client.get("/tickets/new")))
    ok = client.post("/tickets/new", data={"subject": "Real", "body": "Real", "csrf_token": token})
    assert ok.status_code == 302


def test_replying_and_solving_need_the_csrf_token(app, client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    signed_in(customer)
    _protect(app)
    assert client.post(f"/tickets/{ticket.number}/reply", data={"body": "x"}).status_code == 400
    assert client.post(f"/tickets/{ticket.number}/solve").status_code == 400
    token = _token(page(client.get(f"/tickets/{ticket.number}")))
    solved = client.post(f"/tickets/{ticket.number}/solve", data={"csrf_token": token})
    assert solved.status_code == 302


def test_sign_up_needs_the_csrf_token(app, client):
    _protect(app)
    response = client.post("/signup", data={"email": "forged@example.test"})
    assert response.status_code == 400
