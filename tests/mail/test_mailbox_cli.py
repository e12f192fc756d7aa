"""`flask mailbox add/list/test/edit/remove` against a real Dovecot: secrets are stored
encrypted and never printed or logged; /healthz shows each mailbox's polling state; a test of
a server that never answers gives up in seconds; an OAuth refresh token the provider rotates
is kept by the test and the poller, and fetching it never commits the caller's transaction."""

import logging
import socket
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select, text, update

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.mail import mailboxes as services
from helpdesk.mail.delivery import MailStatus, SentMail
from helpdesk.mail.mailboxes import Mailbox, MailboxAuth, check_stalled_mailboxes, find_mailbox
from helpdesk.mail.poller import access_token, forget_token
from helpdesk.outbox.models import OutboxItem
from helpdesk.outbox.runner import run_due
from helpdesk.timeutil import utcnow
from tests import servers

USER = "support@example.test"
PASSWORD = "Tr0ub4dor&3 horse@staple/battery"  # needs percent-encoding in a URL


@pytest.fixture(scope="module")
def imap():
    with servers.dovecot_server({USER: PASSWORD}) as server:
        yield server


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def _url(imap, password: str | None = PASSWORD, scheme="imap", folder="INBOX") -> str:
    secret = f":{quote(password, safe='')}" if password else ""
    return f"{scheme}://{quote(USER, safe='')}{secret}@{imap.host}:{imap.port}/{folder}"


def _add(runner, imap, *extra, password=PASSWORD, name="support", **kw):
    args = ["mailbox", "add", "--name", name, "--imap-url", _url(imap, password), *extra]
    return runner.invoke(args=args, **kw)


def _assert_secret_hidden(text_seen: str, secret: str = PASSWORD) -> None:
    assert secret not in text_seen
    assert quote(secret, safe="") not in text_seen


def _stored_columns() -> str:
    row = db.session.execute(text("SELECT * FROM mailboxes")).one()
    return " ".join(str(value) for value in row)


def test_add_stores_the_password_encrypted_and_never_prints_or_logs_it(runner, imap, logs):
    result = _add(runner, imap, "--address", "Support@Example.test", "--processed-folder", "Done")

    assert result.exit_code == 0, result.output
    assert "Added mailbox support: imap://support@example.test@127.0.0.1" in result.output
    _assert_secret_hidden(result.output)
    _assert_secret_hidden(logs.text)
    mailbox = find_mailbox("support")
    assert (mailbox.username, mailbox.imap_port, mailbox.imap_tls) == (USER, imap.port, False)
    assert (mailbox.folder, mailbox.processed_folder) == ("INBOX", "Done")
    assert mailbox.address == "support@example.test"
    assert mailbox.secret == PASSWORD
    _assert_secret_hidden(_stored_columns())


def test_add_prompts_for_the_secret_without_echoing_it(runner, imap, logs):
    result = _add(runner, imap, password=None, input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert "Password for support@example.test" in result.output
    _assert_secret_hidden(result.output)
    _assert_secret_hidden(logs.text)
    assert find_mailbox("support").secret == PASSWORD


def test_add_reads_the_secret_from_stdin_and_keeps_the_smtp_account(runner, imap):
    result = _add(
        runner,
        imap,
        "--password-stdin",
        "--smtp-url",
        "smtp://support%40example.test@smtp.example.test:587",
        password=None,
        input=PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert "Password" not in result.output
    mailbox = find_mailbox("support")
    assert mailbox.secret == PASSWORD
    assert (mailbox.smtp_host, mailbox.smtp_port) == ("smtp.example.test", 587)
    assert (mailbox.smtp_username, mailbox.smtp_security) == (USER, "starttls")


def test_imaps_url_means_tls_on_port_993_by_default(runner):
    result = runner.invoke(
        args=["mailbox", "add", "--name", "m365", "--imap-url", "imaps://a%40b.test:pw@imap.b.test"]
    )

    assert result.exit_code == 0, result.output
    mailbox = find_mailbox("m365")
    assert (mailbox.imap_tls, mailbox.imap_port, mailbox.username) == (True, 993, "a@b.test")


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://u:p@host/INBOX", "must start with imap:// or imaps://"),
        ("imap://host/INBOX", "needs a user and a host"),
        ("imap://u:p@host:99999/", "invalid port"),
    ],
)
def test_add_refuses_a_bad_imap_url_in_plain_words(runner, url, message):
    result = runner.invoke(args=["mailbox", "add", "--name", "x", "--imap-url", url])

    assert result.exit_code == 1
    assert message in result.output
    assert db.session.execute(text("SELECT count(*) FROM mailboxes")).scalar() == 0


def test_add_refuses_a_name_that_is_taken(runner, imap):
    assert _add(runner, imap).exit_code == 0

    result = _add(runner, imap)

    assert result.exit_code == 1
    assert "A mailbox called 'support' exists already." in result.output


def test_list_shows_each_mailbox_without_its_secret(runner, imap):
    _add(runner, imap, "--address", "support@example.test")

    result = runner.invoke(args=["mailbox", "list"])

    assert result.exit_code == 0
    assert f"support: imap://{USER}@127.0.0.1:{imap.port}/INBOX (password, enabled" in result.output
    assert "last successful poll: never" in result.output
    _assert_secret_hidden(result.output)


def test_test_command_signs_in_and_lists_the_folders(runner, imap, logs):
    _add(runner, imap, "--processed-folder", "Done")

    result = runner.invoke(args=["mailbox", "test", "support"])

    assert result.exit_code == 0, result.output
    assert f"support: signed in to 127.0.0.1:{imap.port} as {USER}" in result.output
    assert "  INBOX  (polled)" in result.output
    assert "Done does not exist yet: the poller creates it" in result.output
    _assert_secret_hidden(result.output + logs.text)


def test_test_command_says_clearly_when_the_password_is_wrong(runner, imap, logs):
    wrong = "not-the-password-4711"
    _add(runner, imap, password=wrong)

    result = runner.invoke(args=["mailbox", "test", "support"])

    assert result.exit_code == 1
    assert f"refused the sign-in as {USER}" in result.output
    assert "AUTHENTICATIONFAILED" in result.output
    _assert_secret_hidden(result.output + logs.text, wrong)


def test_test_command_says_clearly_when_nothing_listens(runner):
    port = servers.free_port()
    runner.invoke(
        args=["mailbox", "add", "--name", "gone", "--imap-url", f"imap://u:p@127.0.0.1:{port}/"]
    )

    result = runner.invoke(args=["mailbox", "test", "gone"])

    assert result.exit_code == 1
    assert f"cannot connect to 127.0.0.1:{port}: ConnectionRefusedError" in result.output


def test_edit_renames_disables_and_replaces_the_secret(runner, imap, logs):
    _add(runner, imap)
    new_secret = "a brand new secret 2026"

    result = runner.invoke(
        args=["mailbox", "edit", "support", "--rename", "help", "--disable", "--password-stdin"],
        input=new_secret + "\n",
    )

    assert result.exit_code == 0, result.output
    assert "help: imap://" in result.output and "disabled" in result.output
    mailbox = find_mailbox("help")
    assert mailbox.secret == new_secret and not mailbox.enabled
    _assert_secret_hidden(result.output + logs.text + _stored_columns(), new_secret)


def test_edit_to_another_folder_starts_reading_it_afresh(runner, imap):
    _add(runner, imap)
    mailbox = find_mailbox("support")
    mailbox.uidvalidity, mailbox.last_uid = 7, 42
    db.session.commit()

    result = runner.invoke(
        args=["mailbox", "edit", "support", "--imap-url", _url(imap, None, folder="Support")]
    )

    assert result.exit_code == 0, result.output
    mailbox = find_mailbox("support")
    assert (mailbox.folder, mailbox.uidvalidity, mailbox.last_uid) == ("Support", None, None)
    assert mailbox.secret == PASSWORD  # no password in the new URL: the old one stays


def test_remove_forgets_the_mailbox(runner, imap):
    _add(runner, imap)

    result = runner.invoke(args=["mailbox", "remove", "support", "--yes"])

    assert result.exit_code == 0
    assert "Removed mailbox support." in result.output
    assert find_mailbox("support") is None


def test_healthz_lists_mailboxes_with_their_state_and_no_secret(runner, imap, client):
    _add(runner, imap)
    _add(runner, imap, name="sales")
    sales = find_mailbox("sales")
    sales.created_at = utcnow() - timedelta(hours=2)
    sales.consecutive_failures, sales.last_error = 3, "connection lost (ConnectionResetError)"
    db.session.commit()

    body = client.get("/healthz").get_json()

    assert body["status"] == "ok"
    assert body["mailboxes"] == [
        {
            "name": "sales",
            "enabled": True,
            "last_success_at": None,
            "stalled": True,
            "last_error": "connection lost (ConnectionResetError)",
        },
        {
            "name": "support",
            "enabled": True,
            "last_success_at": None,
            "stalled": False,
            "last_error": None,
        },
    ]
    _assert_secret_hidden(str(body))


def test_stalled_check_marks_and_logs_a_stalled_mailbox_once(runner, imap, logs):
    _add(runner, imap)
    mailbox = find_mailbox("support")
    mailbox.last_success_at = utcnow() - timedelta(minutes=20)
    db.session.commit()

    first = check_stalled_mailboxes()
    second = check_stalled_mailboxes()

    assert first == "stalled: support" and second is None
    assert db.session.get(Mailbox, mailbox.id).stalled_at is not None
    assert logs.text.count("mailbox support stalled: no successful poll since") == 1
    mailbox.last_success_at = utcnow()
    check_stalled_mailboxes()
    assert db.session.get(Mailbox, mailbox.id).stalled_at is None
    assert "mailbox support polls again" in logs.text


# --- a server that never answers ---------------------------------------------------------------


@pytest.fixture
def silent_port():
    """A port on 127.0.0.1 that accepts connections (the kernel completes them into the
    listen backlog) and never says a word."""
    with socket.create_server((servers.HOST, 0), backlog=8) as listener:
        yield listener.getsockname()[1]


def test_test_command_gives_up_on_a_server_that_never_answers_within_ten_seconds(
    runner, silent_port
):
    url = f"imap://u:p@{servers.HOST}:{silent_port}/"
    runner.invoke(args=["mailbox", "add", "--name", "silent", "--imap-url", url])
    started = time.monotonic()

    result = runner.invoke(args=["mailbox", "test", "silent"])

    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert f"Error: {servers.HOST}:{silent_port} did not answer within 10 s" in result.output
    assert elapsed < 13  # the poller itself waits up to HELPDESK_MAIL_TIMEOUT_SECONDS (60)


# --- OAuth 2: a provider that rotates refresh tokens ---------------------------------------------


@pytest.fixture(scope="module")
def provider():
    with servers.oauth_provider(rotate=True) as server:
        yield server


@pytest.fixture(scope="module")
def oauth_imap(provider):
    url = f"{provider.url}/introspect"
    with servers.dovecot_server({USER: PASSWORD}, oauth2_introspection_url=url) as server:
        yield server


def _add_oauth(provider, port: int) -> Mailbox:
    imap = services.parse_imap_url(f"imap://{quote(USER)}@{servers.HOST}:{port}/INBOX")
    mailbox = services.add_mailbox(
        Actor.system(),
        name="support",
        imap=imap,
        secret=provider.grant(USER),
        auth=MailboxAuth.XOAUTH2,
        oauth_token_url=f"{provider.url}/token",
        oauth_client_id="helpdesk-app",
    )
    db.session.commit()
    return mailbox


def _stored_refresh_token(mailbox_id: int) -> str:
    db.session.rollback()  # what is committed, not what this session holds
    return db.session.get(Mailbox, mailbox_id).secret


def test_fetching_an_access_token_flushes_a_rotated_refresh_token_but_never_commits(app, provider):
    mailbox = _add_oauth(provider, servers.free_port())
    first = mailbox.secret
    mailbox.address = "half-done@example.test"  # the caller's transaction, e.g. an outbox item

    token = access_token(mailbox)

    assert provider.access_tokens[token] == USER
    rotated = db.session.execute(text("SELECT secret_encrypted FROM mailboxes")).scalar_one()
    assert rotated == mailbox.secret_encrypted and mailbox.secret != first  # flushed
    assert _stored_refresh_token(mailbox.id) == first  # rolled back with the caller's work
    assert find_mailbox("support").address is None
    forget_token(mailbox.id)


def test_a_refresh_token_rotated_during_the_test_command_is_kept(runner, provider, oauth_imap):
    mailbox = _add_oauth(provider, oauth_imap.port)
    first = mailbox.secret

    tested = runner.invoke(args=["mailbox", "test", "support"])

    assert tested.exit_code == 0, tested.output
    kept = _stored_refresh_token(mailbox.id)
    assert kept != first and provider.refresh_tokens[kept] == USER
    forget_token(mailbox.id)  # no cached access token: the stored refresh token must work
    again = runner.invoke(args=["mailbox", "test", "support"])
    assert again.exit_code == 0, again.output
    forget_token(mailbox.id)


def test_the_poller_keeps_a_refresh_token_the_provider_rotated(runner, provider, oauth_imap):
    mailbox = _add_oauth(provider, oauth_imap.port)
    first = mailbox.secret

    polled = runner.invoke(args=["mail", "poll", "--once"])

    assert polled.exit_code == 0, polled.output
    assert "support: no new mail" in polled.output
    kept = _stored_refresh_token(mailbox.id)
    assert kept != first and provider.refresh_tokens[kept] == USER
    forget_token(mailbox.id)
    assert runner.invoke(args=["mail", "poll", "--once"]).exit_code == 0
    forget_token(mailbox.id)


def test_a_refresh_token_rotated_before_a_failed_send_is_kept(app, make, provider):
    # The mailbox sends through its own SMTP server, which is down: the outbox retries later.
    mailbox = _add_oauth(provider, servers.free_port())
    first = mailbox.secret
    mailbox.address = app.config["HELPDESK_SUPPORT_ADDRESS"]
    services.edit_mailbox(
        Actor.system(), mailbox, smtp_url=f"smtp://{servers.HOST}:{servers.free_port()}"
    )
    app.config["MAIL_SUPPRESS_SEND"] = False
    make.ticket(requester=make.customer(email="ada@client.example"))
    db.session.commit()

    while run_due():
        db.session.commit()

    row = db.session.execute(select(SentMail)).scalars().first()
    assert row.status == MailStatus.QUEUED and row.error
    kept = _stored_refresh_token(mailbox.id)
    assert kept != first and provider.refresh_tokens[kept] == USER

    # The retry fails too (the outbox item raises to be retried): the next rotation is kept.
    forget_token(mailbox.id)
    db.session.execute(update(OutboxItem).values(run_after=utcnow()))
    db.session.commit()
    run_due()
    db.session.refresh(row)
    assert row.attempts == 2 and row.status == MailStatus.QUEUED
    again = _stored_refresh_token(mailbox.id)
    assert again not in (first, kept) and provider.refresh_tokens[again] == USER
    forget_token(mailbox.id)
