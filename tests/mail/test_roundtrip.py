"""A whole conversation by mail: the customer writes to a real Dovecot mailbox, the poller makes
a ticket, our acknowledgement and the agent's reply go out through SMTP (captured), and the
customer's mail client answers them the way clients do; the answers come back through Dovecot
and the poller into the same ticket, whatever the client did to the subject."""

import email
import email.policy
import itertools
import re
import uuid

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.mail import tokens
from helpdesk.mail.mailboxes import add_mailbox, parse_imap_url
from helpdesk.mail.models import InboundMail
from helpdesk.outbox.runner import run_due
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, Message, Ticket
from tests import servers
from tests.conftest import smtp_config

SUPPORT = "support@help.example"
SECRET = "test-secret-key"
PASSWORD = "imap-secret"
USERS = [f"box{n}@help.example" for n in range(1, 4)]
_users = itertools.count()


@pytest.fixture(scope="module")
def imap():
    # Every account exists when Dovecot starts: one added later takes a while to be known.
    with servers.dovecot_server(dict.fromkeys(USERS, PASSWORD)) as server:
        yield server


@pytest.fixture
def app_config(app_config, smtp):
    return {
        **app_config,
        **smtp_config(smtp),
        "HELPDESK_SUPPORT_ADDRESS": "other@help.example",  # the mailbox's address must win
    }


@pytest.fixture
def account(app, imap) -> str:
    """A fresh Dovecot account, registered as the mailbox of support@help.example."""
    user = USERS[next(_users) % len(USERS)]
    with _imap(imap, user) as client:  # empty it: the Dovecot lives for the whole module
        client.select_folder("INBOX")
        client.delete_messages(client.search("ALL"))
        client.expunge()
    add_mailbox(
        Actor.system(),
        name="support",
        imap=parse_imap_url(f"imap://{user.replace('@', '%40')}@127.0.0.1:{imap.port}/INBOX"),
        secret=PASSWORD,
        address=SUPPORT,
    )
    db.session.commit()
    return user


def _imap(imap, user: str) -> IMAPClient:
    client = IMAPClient(imap.host, port=imap.port, ssl=False, timeout=30)
    client.login(user, PASSWORD)
    return client


def _arrive(imap, user: str, raw: bytes, runner) -> None:
    """The mail reaches the mailbox; the poller takes it in; the outbox runs."""
    with _imap(imap, user) as client:
        client.append("INBOX", raw)
    result = runner.invoke(args=["mail", "poll", "--once", "--mailbox", "support"])
    assert result.exit_code == 0, result.output
    db.session.rollback()  # see what the poller committed
    while run_due():
        db.session.commit()


def _captured(smtp) -> email.message.EmailMessage:
    return email.message_from_bytes(smtp.messages[-1].content, policy=email.policy.default)


def _client_reply(ours, body: str, subject: str | None = None, use_reply_to=True) -> bytes:
    """What a mail client sends when Ada presses "Reply" on one of our mails."""
    to = (ours["Reply-To"] if use_reply_to else ours["From"]).addresses[0].addr_spec
    references = f"{ours['References'] or ''} {ours['Message-ID']}".split()
    return (
        f"From: Ada Lovelace <ada@client.example>\r\nTo: {to}\r\n"
        f"Subject: {subject if subject is not None else 'Re: ' + ours['Subject']}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@client.example>\r\n"
        f"In-Reply-To: {ours['Message-ID']}\r\nReferences: {' '.join(references)}\r\n"
        "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n\r\n> {ours.get_body(preferencelist=('plain',)).get_content()[:200]}\r\n"
    ).encode()


def _tickets() -> int:
    return db.session.execute(select(func.count()).select_from(Ticket)).scalar_one()


def test_a_customer_answering_our_reply_lands_in_the_same_ticket(
    app, imap, account, smtp, runner, make
):
    first = (
        b"From: Ada Lovelace <ada@client.example>\r\nTo: Support <support@help.example>\r\n"
        b"Subject: Laptop will not boot\r\nMessage-ID: <boot-1@client.example>\r\n"
        b"Date: Fri, 27 Nov 2026 09:00:00 +0000\r\n\r\nIt shows a black screen.\r\n"
    )
    _arrive(imap, account, first, runner)
    [ticket] = db.session.execute(select(Ticket)).scalars()
    acknowledgement = _captured(smtp)
    assert acknowledgement["From"].addresses[0].addr_spec == SUPPORT  # the address Ada wrote to
    assert acknowledgement["In-Reply-To"] == "<boot-1@client.example>"

    agent = make.agent(name="Grace Hopper")
    reply = services.add_reply(
        ticket, Actor.for_user(agent), body="Hold the power button for 10 s.", channel=Channel.AGENT
    )
    db.session.commit()
    while run_due():
        db.session.commit()
    ours = _captured(smtp)
    assert ours["In-Reply-To"] == "<boot-1@client.example>"
    assert tokens.find_tokens(ours["Reply-To"].addresses[0].addr_spec, SECRET) == [ticket.number]

    answer = _client_reply(ours, "That worked, thanks!")
    _arrive(imap, account, answer, runner)

    assert _tickets() == 1
    db.session.expire_all()
    last = ticket.messages[-1]
    assert last.body_text.startswith("That worked, thanks!")
    assert last.author_contact.primary_email == "ada@client.example"
    assert (
        last.mail_in_reply_to
        == ours["Message-ID"]
        == db.session.get(Message, reply.id).mail_message_id
    )
    [row] = db.session.execute(
        select(InboundMail).where(InboundMail.message_id == last.id)
    ).scalars()
    assert row.rule == "token"


def test_a_client_that_drops_reply_to_and_rewrites_the_subject_still_threads(
    app, imap, account, smtp, runner, make
):
    customer = make.customer(email="ada@client.example", name="Ada Lovelace")
    ticket = make.ticket(requester=customer, subject="Printer", channel=Channel.PORTAL)
    services.add_reply(
        ticket, Actor.for_user(make.agent()), body="Which model?", channel=Channel.AGENT
    )
    db.session.commit()
    while run_due():
        db.session.commit()
    ours = _captured(smtp)

    answer = _client_reply(ours, "An HP 4000.", subject="model", use_reply_to=False)
    _arrive(imap, account, answer, runner)

    assert _tickets() == 1
    db.session.expire_all()
    assert ticket.messages[-1].body_text.startswith("An HP 4000.")


def test_without_a_worker_poll_once_says_it_sends_the_acknowledgement_before_it_exits(
    app, imap, account, smtp, runner, monkeypatch
):
    monkeypatch.setitem(app.config, "OUTBOX_DISPATCH", "thread")  # no REDIS_URL: in-process
    mail = (
        b"From: Ada Lovelace <ada@client.example>\r\nTo: Support <support@help.example>\r\n"
        b"Subject: Printer jammed\r\nMessage-ID: <jam-1@client.example>\r\n"
        b"Date: Fri, 27 Nov 2026 09:00:00 +0000\r\n\r\nPaper stuck in tray 2.\r\n"
    )
    with _imap(imap, account) as client:
        client.append("INBOX", mail)

    result = runner.invoke(args=["mail", "poll", "--once", "--mailbox", "support"])

    assert result.exit_code == 0, result.output
    assert re.search(r"Running \d+ queued task\(s\) the new mail set off", result.output)
    # Sent by the time the command returned, not left for a worker.
    assert _captured(smtp)["In-Reply-To"] == "<jam-1@client.example>"
