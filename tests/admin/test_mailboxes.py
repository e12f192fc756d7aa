"""The mailboxes administration page against a real Dovecot: add, test, edit, disable; the
health of each mailbox; secrets are write-only and never come back in a page."""

import socket
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from helpdesk.extensions import db
from helpdesk.mail.mailboxes import Mailbox, find_mailbox
from helpdesk.tickets.models import AuditEvent
from helpdesk.timeutil import utcnow
from tests import servers
from tests.conftest import login

USER = "support@example.test"
PASSWORD = "s3cret-Horse-staple"  # noqa: S105
CLIENT_SECRET = "oauth-client-Secret-42"  # noqa: S105


@pytest.fixture(scope="module")
def imap():
    with servers.dovecot_server({USER: PASSWORD}) as server:
        yield server


@pytest.fixture
def admin(app, make):
    user = make.admin(email="ada@desk.test", name="Ada Admin")
    db.session.commit()
    client = app.test_client()
    login(client, user.email)
    return client


def _form(imap, **changes) -> dict:
    form = {
        "name": "support",
        "host": imap.host,
        "port": str(imap.port),
        "username": USER,
        "auth": "password",
        "secret": PASSWORD,
        "folder": "INBOX",
        "processed_folder": "Done",
        "address": "Support@Example.test",
        "enabled": "y",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def _text(response) -> str:
    return response.get_data(as_text=True)


def _secrets_hidden(html: str) -> None:
    assert PASSWORD not in html
    assert CLIENT_SECRET not in html


def test_an_admin_adds_a_mailbox_and_tests_the_connection_against_the_server(admin, imap):
    added = admin.post("/agent/admin/mailboxes/new", data=_form(imap), follow_redirects=True)

    html = _text(added)
    assert "Mailbox support was added" in html
    _secrets_hidden(html)
    mailbox = find_mailbox("support")
    assert (mailbox.imap_host, mailbox.imap_port, mailbox.imap_tls) == (imap.host, imap.port, False)
    assert (mailbox.processed_folder, mailbox.address) == ("Done", "support@example.test")
    assert mailbox.secret == PASSWORD
    stored = " ".join(str(v) for v in db.session.execute(text("SELECT * FROM mailboxes")).one())
    assert PASSWORD not in stored

    tested = admin.post(f"/agent/admin/mailboxes/{mailbox.id}/test", follow_redirects=True)

    assert f"support: signed in to {imap.host}:{imap.port}. Folders: INBOX" in _text(tested)
    assert "last successful poll:" in _text(tested)


def test_a_wrong_password_is_reported_clearly_when_testing(admin, imap):
    admin.post("/agent/admin/mailboxes/new", data=_form(imap, secret="wrong-password"))
    mailbox = find_mailbox("support")

    tested = admin.post(f"/agent/admin/mailboxes/{mailbox.id}/test", follow_redirects=True)

    html = _text(tested)
    assert f"support: the test failed: {imap.host}:{imap.port} refused the sign-in as" in html
    assert "wrong-password" not in html


def test_secrets_are_write_only_an_empty_field_keeps_the_stored_one(admin, imap):
    oauth = {"oauth_client_id": "desk-app", "oauth_client_secret": CLIENT_SECRET}
    admin.post("/agent/admin/mailboxes/new", data=_form(imap, **oauth))
    mailbox = find_mailbox("support")
    edit_url = f"/agent/admin/mailboxes/{mailbox.id}/edit"

    form_page = _text(admin.get(edit_url))
    _secrets_hidden(form_page)
    assert f'value="{imap.host}"' in form_page and 'value="desk-app"' in form_page

    saved = admin.post(
        edit_url,
        data=_form(imap, secret="", folder="Support", **oauth | {"oauth_client_secret": ""}),
        follow_redirects=True,
    )

    assert "Mailbox support was saved." in _text(saved)
    _secrets_hidden(_text(saved))
    db.session.expire_all()
    mailbox = find_mailbox("support")
    assert (mailbox.folder, mailbox.secret) == ("Support", PASSWORD)
    assert mailbox.oauth_client_secret == CLIENT_SECRET
    refused = admin.post(edit_url, data=_form(imap, port="99999", secret=PASSWORD))
    assert refused.status_code == 400
    _secrets_hidden(_text(refused))


def test_disabling_a_mailbox_stops_its_polling_and_keeps_it_listed(admin, imap):
    admin.post("/agent/admin/mailboxes/new", data=_form(imap))
    mailbox = find_mailbox("support")

    answer = admin.post(f"/agent/admin/mailboxes/{mailbox.id}/disable", follow_redirects=True)

    assert "Mailbox support is no longer polled" in _text(answer)
    assert ">disabled<" in _text(answer)
    db.session.expire_all()
    assert db.session.execute(select(Mailbox.enabled)).scalar_one() is False


def test_a_stalled_mailbox_is_flagged_with_its_last_error_and_on_the_admins_queue(
    admin, imap, app, make
):
    admin.post("/agent/admin/mailboxes/new", data=_form(imap))
    mailbox = find_mailbox("support")
    mailbox.created_at = utcnow() - timedelta(hours=2)
    mailbox.consecutive_failures, mailbox.last_error = 3, "cannot connect: ConnectionRefusedError"
    db.session.commit()

    html = _text(admin.get("/agent/admin/mailboxes"))

    assert "1 mailbox(es) stalled" in html
    assert ">stalled<" in html
    assert "Failing (3×): cannot connect: ConnectionRefusedError" in html
    assert "never" in html  # no successful poll yet
    assert "Mailboxes" in _text(admin.get("/agent/admin/"))
    banner = "No mail was fetched for too long from:"
    queue = _text(admin.get("/agent/"))
    assert queue.count(banner) == 1
    assert f'href="/agent/admin/mailboxes#mailbox-{mailbox.id}">support</a>' in queue
    assert banner not in _text(admin.get("/agent/admin/"))  # a banner, not a flash left over
    agent = make.agent(email="al@desk.test")
    db.session.commit()
    client = app.test_client()
    login(client, agent.email)
    assert banner not in _text(client.get("/agent/"))


def test_agents_who_are_not_admins_cannot_open_the_page(app, make):
    agent = make.agent(email="al@desk.test")
    db.session.commit()
    client = app.test_client()
    login(client, agent.email)
    assert client.get("/agent/admin/mailboxes").status_code == 403


def test_an_admins_mailbox_changes_are_audited_under_their_name_without_secrets(admin, imap):
    oauth = {"oauth_client_id": "desk-app", "oauth_client_secret": CLIENT_SECRET}
    admin.post("/agent/admin/mailboxes/new", data=_form(imap, **oauth))
    mailbox = find_mailbox("support")
    new_secret = "A fresh IMAP password 7"  # noqa: S105
    admin.post(
        f"/agent/admin/mailboxes/{mailbox.id}/edit",
        data=_form(imap, secret=new_secret, processed_folder="Archive", **oauth),
    )
    admin.post(f"/agent/admin/mailboxes/{mailbox.id}/disable")

    events = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()

    assert [(e.action, e.actor_label) for e in events] == [
        ("mailbox.added", "Ada Admin <ada@desk.test>"),
        ("mailbox.changed", "Ada Admin <ada@desk.test>"),
        ("mailbox.disabled", "Ada Admin <ada@desk.test>"),
    ]
    assert events[1].old_value == "support: processed_folder=Done"
    assert events[1].new_value == (
        "processed_folder=Archive; secret replaced; oauth_client_secret replaced"
    )
    trail = " ".join(f"{e.old_value} {e.new_value}" for e in events)
    for secret in (PASSWORD, new_secret, CLIENT_SECRET):
        assert secret not in trail


@pytest.fixture
def quick_test(app_config):
    app_config["HELPDESK_MAILBOX_TEST_SECONDS"] = 2


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel completes them into the listen backlog)
    and never says a word."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        yield listener.getsockname()[1]


def test_testing_a_server_that_never_answers_fails_clearly_within_the_bound(
    quick_test, admin, imap, silent_port
):
    form = _form(imap, host="127.0.0.1", port=str(silent_port))
    admin.post("/agent/admin/mailboxes/new", data=form)
    mailbox = find_mailbox("support")
    started = time.monotonic()

    tested = admin.post(f"/agent/admin/mailboxes/{mailbox.id}/test", follow_redirects=True)

    assert time.monotonic() - started < 5
    expected = f"support: the test failed: 127.0.0.1:{silent_port} did not answer within 2 s"
    assert expected in _text(tested)
