"""The IMAP poller against a real Dovecot: new mail becomes a ticket and is flagged or moved
only after the commit; replies thread; a mail in two mailboxes makes one ticket; `--once`
drains; IDLE wakes the poller; XOAUTH2 signs in through a token endpoint."""

import contextlib
import itertools
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.mail import prepare
from helpdesk.mail.mailboxes import Mailbox, MailboxAuth, add_mailbox, parse_imap_url
from helpdesk.mail.models import InboundMail
from helpdesk.mail.poller import poll
from helpdesk.tickets.models import Ticket
from tests import servers

PASSWORD = "imap-secret"
ACCOUNTS = 20  # made when a Dovecot starts: one added later takes a while to be known
_accounts = itertools.count(1)


# --- helpers shared with test_poller_faults.py ------------------------------------------------


@contextlib.contextmanager
def dovecot_with_accounts(**kwargs):
    """A Dovecot with a supply of empty accounts for new_account()."""
    users = [f"support{next(_accounts)}@example.test" for _ in range(ACCOUNTS)]
    with servers.dovecot_server(dict.fromkeys(users, PASSWORD), **kwargs) as server:
        server.unused_accounts = users
        yield server


def new_account(imap) -> str:
    """A fresh, empty mail account on the Dovecot."""
    if imap.unused_accounts:
        return imap.unused_accounts.pop()
    user = f"support{next(_accounts)}@example.test"
    imap.add_user(user, PASSWORD)
    # Dovecot rereads its users file at most once a second: wait until it knows the user.
    wait_for(lambda: _signs_in(imap, user), 10, f"Dovecot to know {user}")
    return user


def _signs_in(imap, user: str) -> bool:
    try:
        imap_client(imap, user).logout()
    except LoginError:
        return False
    return True


def make_mail(n: int, subject: str | None = None, headers: str = "", body: str = "") -> bytes:
    """A customer's mail; Message-IDs are unique per call."""
    return (
        f"From: Customer {n} <customer{n}@example.org>\r\n"
        "To: Support <support@example.test>\r\n"
        f"Subject: {subject or f'Request number {n}'}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}.{n}@example.org>\r\n"
        "Date: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
        f"{headers}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body or f'Hello, this is request {n}.'}\r\n"
    ).encode()


def imap_client(imap, user: str) -> IMAPClient:
    client = IMAPClient(imap.host, port=imap.port, ssl=False, timeout=30)
    client.login(user, PASSWORD)
    return client


def deliver(imap, user: str, *mails: bytes, flags=(), folder="INBOX") -> None:
    with imap_client(imap, user) as client:
        for raw in mails:
            client.append(folder, raw, flags=flags)


def folder_state(imap, user: str, folder: str = "INBOX") -> dict[str, int]:
    """How many messages the folder holds and how many of them are \\Seen."""
    with imap_client(imap, user) as client:
        if not client.folder_exists(folder):
            return {"messages": 0, "seen": 0}
        client.select_folder(folder, readonly=True)
        return {"messages": len(client.search("ALL")), "seen": len(client.search("SEEN"))}


def register(user: str, port: int, name="support", processed=None, **kw) -> Mailbox:
    mailbox = add_mailbox(
        Actor.system(),
        name=name,
        imap=parse_imap_url(f"imap://{user.replace('@', '%40')}@127.0.0.1:{port}/INBOX"),
        secret=kw.pop("secret", PASSWORD),
        processed_folder=processed,
        address="support@example.test",
        **kw,
    )
    db.session.commit()
    return mailbox


def count(model) -> int:
    db.session.rollback()  # a fresh look at what the poller committed
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def wait_for(condition, timeout: float = 30, what: str = "condition"):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline, delay = time.monotonic() + timeout, 0.02
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


class BackgroundPoller:
    """The real poller (`flask mail poll` without --once) in a thread of the test."""

    def __init__(self, app, names=None):
        self.stop = threading.Event()
        self.pollers = []
        self._thread = threading.Thread(target=self._run, args=(app, names), daemon=True)

    def _run(self, app, names):
        self.pollers = poll(app, names, once=False, stop=self.stop)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the poller did not stop within 30 s"


@pytest.fixture(scope="module")
def imap():
    with dovecot_with_accounts() as server:
        yield server


@pytest.fixture
def user(imap):
    return new_account(imap)


def poll_once(runner, *names):
    args = ["mail", "poll", "--once", *itertools.chain(*(("--mailbox", n) for n in names))]
    return runner.invoke(args=args)


def subjects() -> list[str]:
    db.session.rollback()
    return sorted(db.session.execute(select(Ticket.subject)).scalars())


@contextlib.contextmanager
def on_ingest_commit(callback):
    """Call `callback` just before each commit that records a new inbound mail."""

    def after_flush(session, _context):
        if any(isinstance(obj, InboundMail) for obj in session.new):
            session.info["new_inbound_mail"] = True

    def before_commit(session):
        if session.in_nested_transaction():
            return  # a savepoint released: nothing is committed yet
        if session.info.pop("new_inbound_mail", False):
            callback()

    event.listen(Session, "after_flush", after_flush)
    event.listen(Session, "before_commit", before_commit)
    try:
        yield
    finally:
        event.remove(Session, "after_flush", after_flush)
        event.remove(Session, "before_commit", before_commit)


# --- tests -----------------------------------------------------------------------------------


def test_new_mail_becomes_a_ticket_and_is_flagged_seen_only_after_the_commit(runner, imap, user):
    deliver(imap, user, *(make_mail(n) for n in (1, 2, 3)))
    register(user, imap.port)
    seen_at_commit = []

    with on_ingest_commit(lambda: seen_at_commit.append(folder_state(imap, user)["seen"])):
        result = poll_once(runner, "support")

    assert result.exit_code == 0, result.output
    assert "support: 3 new mail(s): 3 new tickets" in result.output
    assert subjects() == ["Request number 1", "Request number 2", "Request number 3"]
    assert seen_at_commit == [0]  # one commit for the batch, and nothing flagged before it
    assert folder_state(imap, user) == {"messages": 3, "seen": 3}


def test_mail_is_moved_to_the_processed_folder_after_the_commit(runner, imap, user):
    deliver(imap, user, make_mail(1), make_mail(2))
    register(user, imap.port, processed="Helpdesk/Done")
    inbox_at_commit = []

    with on_ingest_commit(lambda: inbox_at_commit.append(folder_state(imap, user)["messages"])):
        result = poll_once(runner)

    assert result.exit_code == 0, result.output
    assert inbox_at_commit == [2]  # the batch committed once, before anything moved
    assert count(Ticket) == 2
    assert folder_state(imap, user) == {"messages": 0, "seen": 0}
    assert folder_state(imap, user, "Helpdesk/Done") == {"messages": 2, "seen": 2}


def test_a_reply_threads_into_its_ticket(runner, imap, user):
    first = make_mail(1, subject="Invoice is wrong")
    register(user, imap.port)
    deliver(imap, user, first)
    poll_once(runner)
    message_id = first.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
    reply = make_mail(
        1,
        subject="Re: the invoice (changed subject)",
        headers=f"In-Reply-To: {message_id}\r\nReferences: {message_id}\r\n",
        body="Any news?",
    )
    deliver(imap, user, reply)

    result = poll_once(runner)

    assert result.exit_code == 0, result.output
    assert "support: 1 new mail(s): 1 reply" in result.output
    assert subjects() == ["Invoice is wrong"]
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert [m.body_text for m in ticket.messages][-1].startswith("Any news?")


def test_the_same_mail_in_two_mailboxes_makes_one_ticket(runner, imap):
    support, sales = new_account(imap), new_account(imap)
    raw = make_mail(7, subject="Sent to both addresses")
    deliver(imap, support, raw)
    deliver(imap, sales, raw)
    register(support, imap.port, name="support")
    register(sales, imap.port, name="sales")

    result = poll_once(runner)

    assert result.exit_code == 0, result.output
    assert subjects() == ["Sent to both addresses"]
    outcomes = sorted(db.session.execute(select(InboundMail.outcome)).scalars())
    assert outcomes == ["new_ticket"]
    assert "1 duplicate" in result.output and "1 new ticket" in result.output
    assert folder_state(imap, support)["seen"] == folder_state(imap, sales)["seen"] == 1


@pytest.fixture
def small_batches(app_config):
    app_config["HELPDESK_MAIL_BATCH"] = 7


@pytest.mark.parametrize("parsers", ["0", "1"])
def test_once_drains_the_folder_in_batches_and_then_finds_nothing_new(
    small_batches, app, parsers, runner, imap, user
):
    # With a parser process, a batch is parsed there while the one before it is written.
    app.config["HELPDESK_MAIL_PARSERS"] = parsers
    prepare.shutdown()
    deliver(imap, user, *(make_mail(n) for n in range(30)))
    mailbox = register(user, imap.port)
    seen_at_commit = []

    with on_ingest_commit(lambda: seen_at_commit.append(folder_state(imap, user)["seen"])):
        first = poll_once(runner)
    second = poll_once(runner)

    assert "support: 30 new mail(s): 30 new tickets" in first.output
    assert seen_at_commit == [0, 7, 14, 21, 28]  # a commit a batch, each before its flags
    assert (prepare._executor is not None) == (parsers == "1")
    assert "support: no new mail" in second.output
    assert count(Ticket) == count(InboundMail) == 30
    db.session.refresh(mailbox)
    assert mailbox.last_uid == 30 and mailbox.uidvalidity
    assert mailbox.last_success_at is not None and mailbox.consecutive_failures == 0


def test_mail_someone_read_in_the_mailbox_first_is_still_ingested(runner, imap, user):
    register(user, imap.port)
    deliver(imap, user, make_mail(1))
    poll_once(runner)
    deliver(imap, user, make_mail(2, subject="Read in webmail first"), flags=[rb"\Seen"])

    result = poll_once(runner)

    assert "1 new ticket" in result.output
    assert "Read in webmail first" in subjects()


def test_a_bad_parsers_setting_stops_the_poller_in_one_line(app, runner, imap, user):
    register(user, imap.port)
    app.config["HELPDESK_MAIL_PARSERS"] = "many"

    result = poll_once(runner)

    assert result.exit_code != 0
    assert "HELPDESK_MAIL_PARSERS is 'many': write auto, or 0 to 64" in result.output
    assert "Traceback" not in result.output


def test_poll_of_an_unknown_mailbox_fails_in_one_line(runner):
    result = poll_once(runner, "nope")

    assert result.exit_code == 1
    assert "Error: no mailbox called nope" in result.output


def test_idle_brings_new_mail_in_without_waiting_for_a_poll(app_config, app, imap, user):
    app.config["HELPDESK_MAIL_POLL_SECONDS"] = 3600  # only IDLE can make this test pass
    register(user, imap.port)

    with BackgroundPoller(app, ["support"]):
        wait_for(_polled, 30, "a first poll")
        deliver(imap, user, make_mail(1, subject="Arrived during IDLE"))
        wait_for(lambda: count(Ticket) == 1, 30, "the ticket")

    assert subjects() == ["Arrived during IDLE"]
    assert folder_state(imap, user)["seen"] == 1


@pytest.fixture(scope="module")
def plain_imap():
    """A Dovecot that offers neither MOVE nor IDLE, as some servers don't."""
    with dovecot_with_accounts() as server:
        with open(f"{server.dir}/dovecot.conf", "a") as conf:
            conf.write("protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ UIDPLUS\n}\n")
        os.kill(int(Path(f"{server.dir}/run/master.pid").read_text()), signal.SIGHUP)
        probe = new_account(server)
        wait_for(lambda: b"MOVE" not in _capabilities(server, probe), 10, "the reload")
        yield server


def _capabilities(imap, user: str) -> tuple:
    with imap_client(imap, user) as client:
        return client.capabilities()


def test_without_move_or_idle_it_copies_expunges_and_polls(app_config, app, plain_imap):
    app.config["HELPDESK_MAIL_POLL_SECONDS"] = 0.2
    user = new_account(plain_imap)
    register(user, plain_imap.port, processed="Done")
    deliver(plain_imap, user, make_mail(1), make_mail(2))

    with BackgroundPoller(app, ["support"]):
        wait_for(lambda: count(Ticket) == 2, 30, "the first two tickets")
        deliver(plain_imap, user, make_mail(3))
        wait_for(lambda: count(Ticket) == 3, 30, "the ticket of a later mail")

    assert folder_state(plain_imap, user) == {"messages": 0, "seen": 0}
    assert folder_state(plain_imap, user, "Done") == {"messages": 3, "seen": 3}


def _polled() -> bool:
    db.session.rollback()
    return db.session.execute(select(Mailbox.last_success_at)).scalar() is not None


def test_healthz_shows_the_last_successful_poll(runner, client, imap, user):
    register(user, imap.port)
    poll_once(runner)

    [state] = client.get("/healthz").get_json()["mailboxes"]

    assert state["name"] == "support" and state["last_success_at"].endswith("Z")
    assert state["stalled"] is False and state["last_error"] is None


# --- XOAUTH2 ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def oauth():
    with servers.oauth_provider() as provider:
        yield provider


@pytest.fixture(scope="module")
def oauth_imap(oauth):
    with dovecot_with_accounts(oauth2_introspection_url=f"{oauth.url}/introspect") as server:
        yield server


def _oauth_mailbox(oauth, oauth_imap, refresh_token: str) -> str:
    user = new_account(oauth_imap)
    oauth.refresh_tokens["rt-good"] = user
    register(
        user,
        oauth_imap.port,
        secret=refresh_token,
        auth=MailboxAuth.XOAUTH2,
        oauth_token_url=f"{oauth.url}/token",
        oauth_client_id="helpdesk-app",
    )
    return user


def test_xoauth2_signs_in_with_an_access_token_from_the_token_endpoint(runner, oauth, oauth_imap):
    user = _oauth_mailbox(oauth, oauth_imap, "rt-good")
    deliver(oauth_imap, user, make_mail(1, subject="Sent to a Microsoft 365 mailbox"))
    before = oauth.token_requests

    tested = runner.invoke(args=["mailbox", "test", "support"])
    polled = poll_once(runner)

    assert tested.exit_code == 0, tested.output
    assert "INBOX  (polled)" in tested.output
    assert polled.exit_code == 0, polled.output
    assert subjects() == ["Sent to a Microsoft 365 mailbox"]
    assert oauth.token_requests - before == 1  # the access token is reused until it expires


def test_xoauth2_with_a_revoked_refresh_token_fails_clearly(runner, oauth, oauth_imap):
    _oauth_mailbox(oauth, oauth_imap, "rt-revoked")

    result = runner.invoke(args=["mailbox", "test", "support"])

    assert result.exit_code == 1
    assert "the OAuth token endpoint refused the refresh token: invalid_grant" in result.output
    assert "rt-revoked" not in result.output


def test_xoauth2_token_the_server_rejects_fails_the_sign_in_clearly(runner, oauth, oauth_imap):
    oauth.refresh_tokens["rt-dud"] = ""  # the provider hands out a token Dovecot won't accept
    user = _oauth_mailbox(oauth, oauth_imap, "rt-dud")

    result = poll_once(runner)

    assert result.exit_code == 1
    assert f"refused the sign-in as {user}" in result.output
    assert "AUTHENTICATIONFAILED" in result.output
    mailbox = db.session.execute(select(Mailbox)).scalar_one()
    assert mailbox.consecutive_failures == 1 and "refused the sign-in" in mailbox.last_error
