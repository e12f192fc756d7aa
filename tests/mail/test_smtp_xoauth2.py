"""A mailbox whose own SMTP server signs in with XOAUTH2: replies go out through it with a
bearer token from the provider's token endpoint; a token the server refuses leaves the reply
not delivered with a clear reason, and it goes out once the mailbox's token is fixed."""

import email
import email.policy

import pytest
from sqlalchemy import select

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.mail.delivery import MailStatus, SentMail
from helpdesk.mail.ingest import ingest_raw
from helpdesk.mail.mailboxes import MailboxAuth, add_mailbox, edit_mailbox, parse_imap_url
from helpdesk.outbox.runner import run_due
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, Delivery, Ticket
from tests import servers

SALES = "sales@help.example"


@pytest.fixture(scope="module")
def oauth():
    with servers.oauth_provider() as provider:
        provider.refresh_tokens["rt-good"] = SALES
        provider.refresh_tokens["rt-dud"] = ""  # hands out tokens no server accepts
        yield provider


@pytest.fixture
def oauth_smtp(oauth):
    def valid(user: str, token: str) -> bool:
        return bool(user) and oauth.access_tokens.get(token) == user

    with servers.xoauth2_smtp_server(valid) as server:
        yield server


@pytest.fixture
def app_config(app_config, smtp):
    smtp.clear()
    return {
        **app_config,
        "MAIL_SERVER": smtp.host,  # the global server: these mails must not go there
        "MAIL_PORT": smtp.port,
        "MAIL_SUPPRESS_SEND": False,
        "HELPDESK_SUPPORT_ADDRESS": "support@help.example",
        "HELPDESK_SMTP_TIMEOUT": 5,
    }


def _run() -> None:
    db.session.commit()
    while run_due():
        pass
    db.session.expire_all()


def _sales_mailbox(oauth, oauth_smtp, refresh_token: str):
    mailbox = add_mailbox(
        Actor.system(),
        name="sales",
        imap=parse_imap_url("imap://sales%40help.example@127.0.0.1:1/INBOX"),
        secret=refresh_token,
        address=SALES,
        auth=MailboxAuth.XOAUTH2,
        oauth_token_url=f"{oauth.url}/token",
        oauth_client_id="helpdesk-app",
        smtp_url=f"smtp://sales%40help.example@127.0.0.1:{oauth_smtp.port}?tls=none",
    )
    db.session.commit()
    return mailbox


def _ticket_by_mail(mailbox, n: int = 1) -> Ticket:
    raw = (
        f"From: Ada <ada@client.example>\r\nTo: Sales <{SALES}>\r\nSubject: A quote\r\n"
        f"Message-ID: <quote-{n}@client.example>\r\n\r\nA quote for 20 chairs, please.\r\n"
    ).encode()
    number = ingest_raw(raw, mailbox_id=mailbox.id, uidvalidity=1, uid=n).ticket_number
    _run()
    return db.session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()


def _reply(ticket: Ticket, make):
    message = services.add_reply(
        ticket, Actor.for_user(make.agent()), body="Twenty chairs: 1,200 €.", channel=Channel.AGENT
    )
    _run()
    return message


def _replies_received(server) -> list[email.message.EmailMessage]:
    parsed = [
        email.message_from_bytes(m.content, policy=email.policy.default) for m in server.messages
    ]
    return [m for m in parsed if "1,200" in m.get_body(preferencelist=("plain",)).get_content()]


def test_a_reply_goes_out_through_the_mailboxs_server_signed_in_with_xoauth2(
    app, make, smtp, oauth, oauth_smtp
):
    mailbox = _sales_mailbox(oauth, oauth_smtp, "rt-good")
    ticket = _ticket_by_mail(mailbox)

    message = _reply(ticket, make)

    assert message.delivery == Delivery.SENT and message.delivery_error is None
    [mail] = _replies_received(oauth_smtp)
    assert mail["From"].addresses[0].addr_spec == SALES
    assert f"[#{ticket.number}]" in mail["Subject"]
    assert oauth_smtp.signed_in and set(oauth_smtp.signed_in) == {SALES}
    assert oauth_smtp.refused == 0
    assert smtp.messages == []  # not through the global server


def test_a_refused_token_fails_the_reply_clearly_and_a_resend_works_once_it_is_fixed(
    app, make, smtp, oauth, oauth_smtp
):
    mailbox = _sales_mailbox(oauth, oauth_smtp, "rt-dud")
    ticket = _ticket_by_mail(mailbox)

    message = _reply(ticket, make)

    assert message.delivery == Delivery.FAILED, message.delivery_error
    assert f"refused the sign-in as {SALES} (xoauth2)" in message.delivery_error
    assert "535" in message.delivery_error
    assert "rt-dud" not in message.delivery_error and "Bearer" not in message.delivery_error
    assert _replies_received(oauth_smtp) == [] and oauth_smtp.refused >= 1
    [row] = db.session.execute(select(SentMail).where(SentMail.message_id == message.id)).scalars()
    assert row.status == MailStatus.FAILED and row.outbox_item_id is None  # not retried blindly

    edit_mailbox(Actor.system(), mailbox, secret="rt-good")  # the admin fixes the token
    assert services.resend_message(message, Actor.for_user(ticket.messages[-1].author_user)) == 1
    _run()

    assert message.delivery == Delivery.SENT and message.delivery_error is None
    [mail] = _replies_received(oauth_smtp)
    assert mail["Message-ID"] == row.mail_message_id
    assert smtp.messages == []
