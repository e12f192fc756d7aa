"""`flask demo` (run by `make run`): demo accounts and a lived-in queue, on first start only."""

import hashlib
from collections import Counter as Tally
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpdesk import storage
from helpdesk.accounts.models import Role, Team, User
from helpdesk.demo import ACCOUNTS, DEMO_PASSWORD
from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.tickets.models import Attachment, MessageKind, Ticket
from helpdesk.tickets.services import close_resolved_tickets
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow
from tests.conftest import login

EMAILS = [email for _, email, *_ in ACCOUNTS.values()]


@pytest.fixture
def demo(runner, monkeypatch):
    monkeypatch.delenv("HOST", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return result


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_demo_creates_the_accounts_and_prints_how_to_sign_in(demo):
    users = {u.email: u for u in db.session.scalars(select(User))}
    assert Tally(u.role for u in users.values()) == {
        Role.ADMIN: 1,
        Role.AGENT: 2,
        Role.CUSTOMER: 6,
    }
    teams = {t.name: {m.email for m in t.members} for t in db.session.scalars(select(Team))}
    assert teams == {"Support": {"alice@example.com"}, "Billing": {"bob@example.com"}}
    assert users["carol@acme.example"].contact.organization.name == "Acme Corporation"
    assert users["heidi@mailbox.example"].contact.organization is None
    assert "http://127.0.0.1:5000/login" in demo.output
    for email in EMAILS:
        line = next(line for line in demo.output.splitlines() if email in line)
        assert DEMO_PASSWORD in line


def test_every_demo_login_works(demo, client):
    for role, email, *_ in ACCOUNTS.values():
        response = login(client, email, DEMO_PASSWORD)
        assert response.status_code == 302, email
        home = "/tickets" if role == Role.CUSTOMER else "/agent/"
        assert response.headers["Location"].endswith(home), email
        assert client.get(home).status_code == 200, email
        assert client.post("/logout").status_code == 302


def test_demo_queue_covers_every_status_with_real_conversations(demo):
    tickets = db.session.scalars(select(Ticket)).all()
    assert 25 <= len(tickets) <= 35
    assert set(Tally(t.status for t in tickets)) == set(Status)
    assert {t.priority for t in tickets} >= {"low", "normal", "high", "urgent"}
    assert any(t.tags for t in tickets)
    kinds = Tally(m.kind for t in tickets for m in t.messages)
    assert kinds[MessageKind.NOTE] >= 3 and kinds[MessageKind.REPLY] >= 50
    worked = [t for t in tickets if t.status != Status.NEW and t.merged_into_id is None]
    assert all(t.assignee is not None for t in worked)
    assert any(any(m.author_user_id for m in t.messages if m.is_public) for t in worked)


def test_demo_has_a_merged_pair(demo):
    merged = db.session.scalars(select(Ticket).where(Ticket.merged_into_id.is_not(None))).all()
    assert len(merged) == 1
    source, target = merged[0], merged[0].merged_into
    assert source.status == Status.CLOSED and target.status == Status.OPEN
    assert any("sending this again" in m.body_text for m in target.messages)
    assert any(f"#{source.number} was merged" in m.body_text for m in target.messages)


def test_demo_attachments_are_stored_and_readable(demo):
    attachments = db.session.scalars(select(Attachment)).all()
    assert {a.content_type for a in attachments} >= {"text/plain", "image/png"}
    for attachment in attachments:
        data = storage.read_blob(attachment.sha256)
        assert hashlib.sha256(data).hexdigest() == attachment.sha256
        assert len(data) == attachment.size
    png = next(a for a in attachments if a.content_type == "image/png")
    assert storage.read_blob(png.sha256).startswith(b"\x89PNG\r\n\x1a\n")


def test_demo_queue_looks_lived_in_with_histories_in_order(demo):
    now = utcnow()
    tickets = db.session.scalars(select(Ticket).order_by(Ticket.number)).all()
    created = [t.created_at for t in tickets]
    assert created == sorted(set(created))  # numbers follow the dates
    assert now - created[0] > timedelta(days=30)
    for ticket in tickets:
        times = [m.created_at for m in ticket.messages]
        assert times == sorted(times), ticket.number
        assert ticket.created_at <= times[0] and times[-1] <= now, ticket.number
    # Resolved tickets lie inside the reopen window: the first periodic run keeps them.
    assert close_resolved_tickets() == 0


def test_running_demo_again_creates_nothing_and_prints_the_logins(demo, runner):
    before = (count(User), count(Ticket), count(Attachment))

    again = runner.invoke(args=["demo"])

    assert again.exit_code == 0, again.output
    assert "Demo data exists already" in again.output
    assert all(email in again.output for email in EMAILS)
    assert (count(User), count(Ticket), count(Attachment)) == before


def test_demo_creates_nothing_where_users_exist_already(make, runner):
    make.admin(email="owner@company.example")
    db.session.commit()

    result = runner.invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    assert "Demo data exists already" in result.output
    assert count(User) == 1 and count(Ticket) == 0
    assert DEMO_PASSWORD not in result.output


def test_demo_login_url_follows_host_and_port(runner, monkeypatch):
    monkeypatch.setenv("HOST", "192.0.2.10")
    monkeypatch.setenv("PORT", "8081")

    result = runner.invoke(args=["demo"])

    assert "http://192.0.2.10:8081/login" in result.output


@pytest.fixture
def in_process_dispatch(app_config):
    app_config["OUTBOX_DISPATCH"] = "thread"  # as in `make run` without Redis


def test_demo_notifications_are_done_before_the_logins_are_printed(in_process_dispatch, runner):
    result = runner.invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    statuses = Tally(db.session.scalars(select(OutboxItem.status)))
    assert statuses and set(statuses) == {OutboxStatus.DONE}
    assert "heidi@mailbox.example" in result.output.strip().splitlines()[-1]
