"""The console's side of outbound mail: each public reply shows whether it went out, a reply
that was not delivered can be sent again, the reply box warns about bouncing addresses, and
/agent/mail/outgoing lists what did not go out, for the tickets the agent may see."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from helpdesk.accounts.actor import Actor
from helpdesk.contacts.models import ContactEmail
from helpdesk.extensions import db
from helpdesk.mail.delivery import MailStatus, SentMail
from helpdesk.outbox.runner import run_due
from helpdesk.tickets import services
from helpdesk.tickets.models import AuditEvent, Channel, Delivery
from helpdesk.timeutil import utcnow
from tests import servers
from tests.agent.conftest import page
from tests.conftest import login, smtp_config

OUTGOING = "/agent/mail/outgoing"


@pytest.fixture
def app_config(app_config, smtp):
    return {
        **app_config,
        **smtp_config(smtp),
        "HELPDESK_SUPPORT_ADDRESS": "support@help.example",
        "HELPDESK_SMTP_TIMEOUT": 5,
    }


@pytest.fixture
def desk(make):
    support, billing = make.team("Support"), make.team("Billing")
    alice = make.agent(email="alice@desk.test", name="Alice Agent", teams=[support])
    bob = make.agent(email="bob@desk.test", name="Bob Billing", teams=[billing])
    ticket = make.ticket(
        requester=make.customer(email="carol@client.example", name="Carol"),
        subject="Invoice is wrong",
        team=support,
    )
    _run()
    return alice, bob, ticket


def _run() -> None:
    db.session.commit()
    while run_due():
        pass
    db.session.expire_all()


def _client(app, user):
    client = app.test_client()
    login(client, user.email)
    return client


def _failed_reply(app, ticket, agent, body="Credit note attached."):
    """A reply the server could not take: no mail server configured makes it fail for good."""
    app.config["MAIL_SERVER"] = None
    message = services.add_reply(ticket, Actor.for_user(agent), body=body, channel=Channel.AGENT)
    _run()
    app.config["MAIL_SERVER"] = servers.HOST
    assert message.delivery == Delivery.FAILED
    return message


def _mails_to(smtp, address: str) -> int:
    return sum(address in m.rcpt_tos for m in smtp.messages)


def test_a_sent_reply_says_so_beside_it(app, smtp, desk):
    alice, _bob, ticket = desk
    message = services.add_reply(
        ticket, Actor.for_user(alice), body="Fixed it.", channel=Channel.AGENT
    )
    _run()

    body = page(_client(app, alice).get(f"/agent/tickets/{ticket.number}"))

    article = body[body.index(f'id="m{message.id}"') :]
    assert "Sent by e-mail" in article[: article.index("</article>")]
    assert "Send again" not in body


def test_a_failed_reply_shows_why_and_send_again_delivers_it(app, smtp, desk):
    alice, _bob, ticket = desk
    message = _failed_reply(app, ticket, alice)
    client = _client(app, alice)

    body = page(client.get(f"/agent/tickets/{ticket.number}"))
    article = body[body.index(f'id="m{message.id}"') :]
    article = article[: article.index("</article>")]
    assert "Not delivered." in article and "No mail server is configured" in article
    resend_url = f"/agent/tickets/{ticket.number}/messages/{message.id}/resend"
    assert f'action="{resend_url}"' in article and "Send again" in article

    response = client.post(resend_url)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/agent/tickets/{ticket.number}#m{message.id}")
    _run()

    assert message.delivery == Delivery.SENT
    assert _mails_to(smtp, "carol@client.example") == 2  # the acknowledgement, then the reply
    shown = page(client.get(f"/agent/tickets/{ticket.number}"))
    assert "being sent again" in shown and "Not delivered." not in shown
    assert db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "mail_resent")
    ).scalar_one()


def test_send_again_is_refused_clearly_for_a_delivered_reply_and_hidden_tickets(app, smtp, desk):
    alice, bob, ticket = desk
    failed = _failed_reply(app, ticket, alice)
    sent = services.add_reply(ticket, Actor.for_user(alice), body="Again.", channel=Channel.AGENT)
    _run()

    refused = _client(app, alice).post(f"/agent/tickets/{ticket.number}/messages/{sent.id}/resend")
    hidden = _client(app, bob).post(f"/agent/tickets/{ticket.number}/messages/{failed.id}/resend")

    assert refused.status_code == 400
    assert "Only a reply that was not delivered can be sent again." in page(refused)
    assert hidden.status_code == 404
    _run()
    assert failed.delivery == Delivery.FAILED  # Bob's attempt changed nothing
    assert _mails_to(smtp, "carol@client.example") == 2  # acknowledgement and "Again."


def test_the_reply_box_warns_when_the_requester_or_a_cc_bounces(app, make, desk):
    alice, _bob, ticket = desk
    client = _client(app, alice)
    assert "Bouncing address" not in page(client.get(f"/agent/tickets/{ticket.number}"))

    services.add_participant(ticket, Actor.for_user(alice), email="dave@client.example")
    db.session.execute(
        update(ContactEmail)
        .where(ContactEmail.email.in_(["carol@client.example", "dave@client.example"]))
        .values(bouncing=True)
    )
    body = page(client.get(f"/agent/tickets/{ticket.number}"))

    reply_box = body[body.index('id="reply"') : body.index('id="note"')]
    assert "Bouncing address" in reply_box
    assert "carol@client.example" in reply_box and "dave@client.example" in reply_box
    assert "Your reply is still sent" in reply_box


def test_the_outgoing_page_lists_failed_and_stuck_mail_newest_first(app, make, desk):
    alice, bob, ticket = desk
    failed = _failed_reply(app, ticket, alice, body="First, failed.")
    app.config["MAIL_PORT"] = servers.free_port()  # nobody listens: the mail waits for a retry
    stuck = services.add_reply(ticket, Actor.for_user(alice), body="Stuck.", channel=Channel.AGENT)
    fresh = services.add_reply(ticket, Actor.for_user(alice), body="Fresh.", channel=Channel.AGENT)
    _run()
    db.session.execute(
        update(SentMail)
        .where(SentMail.message_id == stuck.id)
        .values(created_at=utcnow() - timedelta(minutes=10))
    )
    db.session.execute(
        update(SentMail)
        .where(SentMail.message_id == failed.id)
        .values(created_at=utcnow() - timedelta(minutes=20))
    )

    body = page(_client(app, alice).get(OUTGOING))
    others = page(_client(app, bob).get(OUTGOING))

    [stuck_row] = db.session.execute(select(SentMail).where(SentMail.message_id == stuck.id))
    [failed_row] = db.session.execute(select(SentMail).where(SentMail.message_id == failed.id))
    [fresh_row] = db.session.execute(select(SentMail).where(SentMail.message_id == fresh.id))
    assert stuck_row[0].status == fresh_row[0].status == MailStatus.QUEUED
    assert f'id="mail-{stuck_row[0].id}"' in body and f'id="mail-{failed_row[0].id}"' in body
    assert f'id="mail-{fresh_row[0].id}"' not in body  # queued only a moment ago
    assert body.index(f'id="mail-{stuck_row[0].id}"') < body.index(f'id="mail-{failed_row[0].id}"')
    assert "refused the connection" in body and "No mail server is configured" in body
    assert body.count("Send again") == 1  # only the failed one
    assert "Invoice is wrong" not in others and "Every mail went out." in others


def test_send_again_from_the_outgoing_page_delivers_a_failed_notice(app, smtp, make, desk):
    alice, bob, ticket = desk
    app.config["MAIL_SERVER"] = None
    make.ticket(
        requester=make.customer(email="erin@client.example"),
        subject="Lost parcel",
        team=ticket.team,
    )
    _run()
    app.config["MAIL_SERVER"] = servers.HOST
    [row] = db.session.execute(
        select(SentMail).where(SentMail.to_address == "erin@client.example")
    ).scalars()
    assert row.kind == "acknowledge" and row.status == MailStatus.FAILED

    hidden = _client(app, bob).post(f"{OUTGOING}/{row.id}/resend")
    assert hidden.status_code == 404
    db.session.expire_all()
    assert row.status == MailStatus.FAILED
    response = _client(app, alice).post(f"{OUTGOING}/{row.id}/resend")
    assert response.status_code == 302
    _run()

    assert row.status == MailStatus.SENT
    assert _mails_to(smtp, "erin@client.example") == 1
    assert f'id="mail-{row.id}"' not in page(_client(app, alice).get(OUTGOING))
    again = _client(app, alice).post(f"{OUTGOING}/{row.id}/resend")
    assert again.status_code == 400
    assert "Only a mail that was not delivered can be sent again." in page(again)
