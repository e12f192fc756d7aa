"""App-wide answers: the health check, error pages and security headers."""

import logging

import pytest

from helpdesk.errors import RateLimited
from helpdesk.extensions import db
from tests.conftest import login

FRIENDLY_500 = "An unexpected error happened; it has been logged. Please try again."


def test_healthz_reports_database_queue_and_outbox_as_json(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["dialect"] in {"sqlite", "postgresql"}
    assert body["queue"] == {"status": "ok", "backend": "in-process"}
    assert body["outbox"] == {"pending": 0, "dead": 0}
    assert isinstance(body["mailboxes"], list)


def test_healthz_needs_no_sign_in(client):
    response = client.get("/healthz")

    assert response.status_code == 200 and "Location" not in response.headers


@pytest.fixture
def crashing_app(app):
    """The app with a page that fails the way an unexpected bug would."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def crash():
        raise RuntimeError("secret internal detail 4711")

    app.add_url_rule("/test-only/crash", "test_only_crash", crash)
    return app


def test_unexpected_error_shows_the_friendly_page_without_a_traceback(crashing_app, caplog):
    with caplog.at_level(logging.ERROR):
        response = crashing_app.test_client().get("/test-only/crash")

    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Something went wrong" in text and FRIENDLY_500 in text
    assert "Traceback" not in text
    assert "secret internal detail" not in text and "RuntimeError" not in text
    assert "Back to the start page" in text
    assert any(r.exc_info and "/test-only/crash" in r.getMessage() for r in caplog.records)


def test_domain_rate_limit_answers_429_with_retry_after(app, client):
    def too_fast():
        raise RateLimited("Too many messages. Wait a little.", retry_after=42)

    app.add_url_rule("/test-only/too-fast", "test_only_too_fast", too_fast)

    response = client.get("/test-only/too-fast")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "42"
    assert "Too many messages. Wait a little." in response.get_data(as_text=True)


def test_unknown_page_answers_404_with_the_friendly_page(client):
    response = client.get("/no/such/page")

    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "<h1>Not Found</h1>" in text and "Back to the start page" in text
    assert "Traceback" not in text


def test_wrong_method_answers_405_and_says_which_methods_work(client):
    response = client.get("/logout")

    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "Method Not Allowed" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/login", "/no/such/page", "/healthz"])
def test_every_answer_carries_the_security_headers(client, path):
    response = client.get(path)

    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_guessing_another_customers_ticket_number_answers_404_not_403(client, make):
    mine = make.customer()
    other = make.customer()
    own_ticket = make.ticket(requester=mine, subject="My own printer")
    their_ticket = make.ticket(requester=other, subject="Salary spreadsheet")
    db.session.commit()
    login(client, mine.email)

    guessed = client.get(f"/tickets/{their_ticket.number}")
    missing = client.get("/tickets/999999")

    assert guessed.status_code == missing.status_code == 404
    guessed_text = guessed.get_data(as_text=True)
    assert "Salary spreadsheet" not in guessed_text
    assert f"#{their_ticket.number}" in guessed_text, "the page names the number asked for"
    # Word for word the page of a number that does not exist: the guess learns nothing.
    missing_text = missing.get_data(as_text=True)
    their_number = str(their_ticket.number)
    assert guessed_text.replace(their_number, "N") == missing_text.replace("999999", "N")
    assert client.get(f"/tickets/{own_ticket.number}").status_code == 200
