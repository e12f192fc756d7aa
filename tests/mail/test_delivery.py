"""Delivery: nothing is lost while the SMTP server is down, nothing is sent twice, a reply that
never gets through is shown as not delivered and can be resent, a mailbox's own server is
used, and automatic mail stops before it can loop."""

import email
import email.policy
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from flask import render_template
from sqlalchemy import select, update

from helpdesk.accounts.actor import Actor
from helpdesk.contacts.models import ContactEmail
from helpdesk.extensions import db
from helpdesk.mail import delivery
from helpdesk.mail.delivery import DELIVER, MailStatus, SentMail
from helpdesk.mail.ingest import ingest_raw
from helpdesk.mail.mailboxes import add_mailbox, parse_imap_url
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.outbox.runner import BACKOFF, run_due
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, Delivery
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow
from tests import servers
from tests.conftest import smtp_config

SUPPORT = "support@help.example"


@pytest.fixture
def closed_port() -> int:
    return servers.free_port()


@pytest.fixture
def app_config(app_config, smtp):
    return {
        **app_config,
        **smtp_config(smtp),
        "HELPDESK_SUPPORT_ADDRESS": SUPPORT,
        "MAIL_DEFAULT_SENDER": SUPPORT,
        "HELPDESK_SMTP_TIMEOUT": 5,
    }


@pytest.fixture
def smtp_down(app_config, closed_port):
    """Point MAIL_PORT at a port nobody listens on; request it before `app` (or `make`)."""
    app_config["MAIL_PORT"] = closed_port


def _run() -> int:
    db.session.commit()
    ran = 0
    while batch := run_due():
        ran += batch
    return ran


def _retries() -> list[OutboxItem]:
    db.session.expire_all()
    return list(db.session.execute(select(OutboxItem).where(OutboxItem.kind == DELIVER)).scalars())


def _make_due() -> None:
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.kind == DELIVER, OutboxItem.status == OutboxStatus.PENDING)
        .values(run_after=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def _to(smtp, address: str) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(m.content, policy=email.policy.default)
        for m in smtp.messages
        if address in m.rcpt_tos
    ]


def _snippet(app, **context) -> str:
    """The console's delivery line for a reply (mail/_delivery_status.html)."""
    with app.test_request_context():
        return render_template("mail/_delivery_status.html", **context)


def _reply(ticket, agent, body="We are on it."):
    return services.add_reply(ticket, Actor.for_user(agent), body=body, channel=Channel.AGENT)


def test_mail_waits_while_the_smtp_server_is_down_and_goes_out_once_when_it_is_back(
    smtp_down, app, smtp, make
):
    ticket = make.ticket(requester=make.customer(email="ada@client.example"))
    _run()

    [row] = db.session.execute(select(SentMail)).scalars()
    assert row.status == MailStatus.QUEUED
    assert "refused the connection" in row.error
    [retry] = _retries()
    assert retry.status == OutboxStatus.PENDING
    assert retry.run_after >= utcnow() + BACKOFF[0] - timedelta(seconds=5)  # backs off first
    assert smtp.messages == []

    app.config["MAIL_PORT"] = smtp.port  # the server is back
    _make_due()
    assert _run() == 1
    [mail] = _to(smtp, "ada@client.example")
    assert f"[#{ticket.number}]" in mail["Subject"]
    db.session.expire_all()
    assert row.status == MailStatus.SENT and row.error is None
    assert row.mail_message_id == mail["Message-ID"]  # the id chosen before the outage

    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.kind == DELIVER)
        .values(status=OutboxStatus.PENDING, attempts=0)
    )
    _make_due()
    _run()  # even a retry that runs again after the 250 does not send it twice
    assert len(_to(smtp, "ada@client.example")) == 1


def test_a_reply_that_fails_every_retry_is_shown_undelivered_and_can_be_resent(
    smtp_down, app, smtp, make
):
    ticket = make.ticket(requester=make.customer(email="bo@client.example"))
    agent = make.agent()
    _run()
    message = _reply(ticket, agent)
    _run()
    db.session.expire_all()
    assert message.delivery == Delivery.QUEUED
    assert "refused the connection" in message.delivery_error

    reply_retry = _retries()[-1]
    db.session.execute(
        update(OutboxItem).where(OutboxItem.id == reply_retry.id).values(attempts=len(BACKOFF))
    )
    _make_due()
    _run()  # the last retry
    db.session.expire_all()
    assert _retries()[-1].status == OutboxStatus.DEAD
    assert message.delivery == Delivery.FAILED
    assert "refused the connection" in message.delivery_error
    snippet = _snippet(app, message=message, resend_url="/resend")
    assert "Not delivered." in snippet and 'action="/resend"' in snippet

    app.config["MAIL_PORT"] = smtp.port
    assert services.resend_message(message, Actor.for_user(agent)) == 1
    _run()
    db.session.expire_all()
    assert message.delivery == Delivery.SENT
    [mail] = _to(smtp, "bo@client.example")
    assert "We are on it." in mail.get_body(preferencelist=("plain",)).get_content()
    with pytest.raises(Exception, match="not delivered"):
        services.resend_message(message, Actor.for_user(agent))


class _Refusing:
    """An SMTP server that refuses every recipient for good (550)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user here"


def test_a_permanent_refusal_is_not_retried(app, make):
    port = servers.free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port, server_hostname="x")
    controller.start()
    try:
        app.config["MAIL_PORT"] = port
        ticket = make.ticket(requester=make.customer(email="gone@client.example"))
        agent = make.agent()
        _run()
        message = _reply(ticket, agent)
        _run()
    finally:
        controller.stop()

    db.session.expire_all()
    assert message.delivery == Delivery.FAILED
    assert "550" in message.delivery_error and "No such user" in message.delivery_error
    assert _retries() == []
    snippet = _snippet(app, message=message)
    assert "Not delivered." in snippet and "<form" not in snippet


class _Authenticator:
    def __init__(self):
        self.logins = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"support@help.example", b"box-secret")
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)


def test_mail_goes_through_the_mailbox_the_customer_wrote_to(app, smtp, make):
    """From that mailbox's address, through its own SMTP server and sign-in."""
    own = servers.SmtpServer(servers.free_port())
    authenticator = _Authenticator()
    controller = Controller(
        own,
        hostname="127.0.0.1",
        port=own.port,
        server_hostname="x",
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        mailbox = add_mailbox(
            Actor.system(),
            name="sales",
            imap=parse_imap_url("imap://support%40help.example@127.0.0.1:1/INBOX"),
            secret="box-secret",
            address="sales@help.example",
            smtp_url=f"smtp://support%40help.example@127.0.0.1:{own.port}?tls=none",
        )
        db.session.flush()
        raw = (
            b"From: Ada <ada@client.example>\r\nTo: Sales <sales@help.example>\r\n"
            b"Subject: Quote\r\nMessage-ID: <q1@client.example>\r\n\r\nA quote, please.\r\n"
        )
        ticket_number = ingest_raw(raw, mailbox_id=mailbox.id, uidvalidity=1, uid=1).ticket_number
        _run()
        [mail] = own.wait_for(1)
    finally:
        controller.stop()

    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert parsed["From"].addresses[0].addr_spec == "sales@help.example"
    assert parsed["Reply-To"].addresses[0].addr_spec.startswith("sales+t")
    assert f"[#{ticket_number}]" in parsed["Subject"]
    assert mail.mail_from == "sales@help.example"  # bounces come back to that mailbox
    assert authenticator.logins == ["support@help.example"]
    assert smtp.messages == []  # not through the global server


def _customers_mail(n: int, sender: str, extra: str = "") -> bytes:
    return (
        f"From: Bot <{sender}>\r\nTo: {SUPPORT}\r\nSubject: Your message {n}\r\n"
        f"Message-ID: <bot-{n}@client.example>\r\n{extra}\r\nThanks for your mail {n}.\r\n"
    ).encode()


def test_an_auto_responder_that_answers_every_mail_is_cut_off_by_the_rate_limit(app, smtp):
    """It hides what it is (no Auto-Submitted) and writes a new subject every time."""
    bot = "robot@client.example"
    ingest_raw(_customers_mail(0, bot))
    _run()
    for n in range(1, 30):  # bounded: a loop that never stopped would fail here
        answered = len(_to(smtp, bot))
        if answered < n:
            break
        ingest_raw(_customers_mail(n, bot))  # it answers our latest mail
        _run()

    assert len(_to(smtp, bot)) == 5  # HELPDESK_AUTO_MAIL_PER_RECIPIENT_HOUR
    rows = db.session.execute(select(SentMail).where(SentMail.to_address == bot)).scalars().all()
    assert len(rows) == 5


def test_mail_from_an_honest_auto_responder_is_never_answered(app, smtp):
    ingest_raw(_customers_mail(1, "away@client.example", "Auto-Submitted: auto-replied\r\n"))
    ingest_raw(_customers_mail(2, "list@client.example", "Precedence: bulk\r\n"))
    _run()
    assert smtp.messages == []


def test_the_per_ticket_limit_stops_a_flood_of_notices_on_one_ticket(app, smtp, make):
    app.config.update(
        HELPDESK_AUTO_MAIL_PER_TICKET_HOUR=3, HELPDESK_AUTO_MAIL_PER_RECIPIENT_HOUR=99
    )
    ticket = make.ticket(requester=make.customer(email="cy@client.example"))
    agent = Actor.for_user(make.agent())
    for status in (Status.PENDING, Status.OPEN, Status.PENDING, Status.OPEN, Status.PENDING):
        services.change_status(ticket, agent, status)
        _run()

    # the acknowledgement and two "waiting for you" notices; the third is held back
    assert len(_to(smtp, "cy@client.example")) == 3


def test_automatic_mail_skips_bouncing_and_machine_addresses_but_agents_replies_do_not(
    app, smtp, make
):
    bouncing = make.customer(email="old@client.example")
    db.session.execute(
        update(ContactEmail).where(ContactEmail.email == "old@client.example").values(bouncing=True)
    )
    ticket = make.ticket(requester=bouncing)
    make.ticket(requester=make.customer(email="no-reply@shop.example"))
    make.ticket(requester=make.customer(email=SUPPORT.replace("@", "+x@")))
    _run()
    assert smtp.messages == []

    _reply(ticket, make.agent(), body="Is this address still yours?")
    _run()
    assert len(_to(smtp, "old@client.example")) == 1
    assert delivery.bouncing_addresses(ticket) == ["old@client.example"]
    snippet = _snippet(
        app,
        message=ticket.messages[-1],
        bouncing=delivery.bouncing_addresses(ticket),
    )
    assert "old@client.example bounces" in snippet


def test_without_a_mail_server_the_reply_says_so_instead_of_pretending(app, make):
    app.config["MAIL_SERVER"] = None
    ticket = make.ticket(requester=make.customer(email="dan@client.example"))
    message = _reply(ticket, make.agent())
    _run()
    db.session.expire_all()
    assert message.delivery == Delivery.FAILED
    assert "No mail server is configured" in message.delivery_error
