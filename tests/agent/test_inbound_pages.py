"""The console's inbound-mail pages: the quarantine, the spam list, unattached bounces, and
"why this ticket" on the ticket page, over real ingest and a real database."""

from email.message import EmailMessage

import pytest
from markupsafe import escape
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.mail import ingest
from helpdesk.mail.models import InboundMail
from helpdesk.notifications import ACKNOWLEDGE
from helpdesk.outbox.models import OutboxItem
from helpdesk.tickets import blocklist
from helpdesk.tickets.models import AuditEvent, Ticket
from tests.agent.conftest import page
from tests.conftest import CORPUS, login

SUPPORT = "support@help.example"
# A malformed mail from the corpus (SOURCES.md: "Malformed or hostile input"), 119,332 bytes.
BROKEN = CORPUS / "spamscope-mail-parser" / "tests-mails" / "mail_malformed_1"
# A delivery report for a mail we never sent.
STRAY_BOUNCE = CORPUS / "spamscope-mail-parser" / "tests-mails" / "mail_malformed_2"


@pytest.fixture
def app_config(app_config):
    app_config["HELPDESK_SUPPORT_ADDRESS"] = SUPPORT
    app_config["HELPDESK_MAX_MAIL_MB"] = 0.1  # 104,857 bytes: the broken mail is over it
    return app_config


def _mail(body="Cheap watches, click here.", *, sender="Spammer <deals@spam.example>", **headers):
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = SUPPORT
    mail["Subject"] = headers.pop("subject", "Great offer")
    mail["Message-ID"] = headers.pop("message_id", "<offer-1@spam.example>")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return bytes(mail)


def _audits(action: str) -> list[AuditEvent]:
    found = select(AuditEvent).where(AuditEvent.action == action)
    return list(db.session.execute(found).scalars())


def test_quarantine_lists_a_broken_corpus_mail_and_retry_makes_it_a_ticket_once_the_cause_is_fixed(
    app, alice_client
):
    result = ingest.ingest_raw(BROKEN.read_bytes())
    assert result.outcome == "too_large"

    listing = page(alice_client.get("/agent/mail/quarantine"))
    assert '<a href="/agent/mail/quarantine" aria-current="page">Incoming mail</a>' in listing
    assert 'Mail quarantine <span class="count">(1)</span>' in listing
    assert "femucca@tin.it" in listing
    assert "over the limit of 104857 bytes" in listing
    assert f"/agent/mail/{result.inbound_id}/original.eml" in listing

    still = alice_client.post(f"/agent/mail/{result.inbound_id}/retry", follow_redirects=True)
    assert "failed again and stays in quarantine" in page(still)

    app.config["HELPDESK_MAX_MAIL_MB"] = 1  # the admin raised the limit
    done = alice_client.post(f"/agent/mail/{result.inbound_id}/retry", follow_redirects=True)

    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert f"was processed: new ticket #{ticket.number}" in page(done)
    assert "The quarantine is empty." in page(done)
    assert ticket.requester.primary_email == "femucca@tin.it"
    assert [a.new_value for a in _audits("mail.retried")] == ["too_large", "new_ticket"]


def test_discard_takes_a_mail_off_the_quarantine_keeps_its_original_and_is_audited(
    app, alice_client
):
    result = ingest.ingest_raw(BROKEN.read_bytes())

    answer = alice_client.post(f"/agent/mail/{result.inbound_id}/discard", follow_redirects=True)

    assert "was discarded (the original is kept)" in page(answer)
    assert "The quarantine is empty." in page(answer)
    original = alice_client.get(f"/agent/mail/{result.inbound_id}/original.eml")
    assert original.data == BROKEN.read_bytes()
    (audit,) = _audits("mail.discarded")
    assert "Alice Agent" in audit.actor_label and "femucca@tin.it" in audit.old_value


def test_the_original_eml_goes_to_agents_only(app, desk, alice_client):
    result = ingest.ingest_raw(BROKEN.read_bytes())
    url = f"/agent/mail/{result.inbound_id}/original.eml"

    answer = alice_client.get(url)
    assert answer.status_code == 200
    assert answer.mimetype == "message/rfc822"
    assert "attachment" in answer.headers["Content-Disposition"]
    assert answer.data == BROKEN.read_bytes()

    customer = app.test_client()
    login(customer, desk.carol.email)
    assert customer.get(url).status_code == 404
    assert app.test_client().get(url).status_code == 302  # to the login page


def test_spam_is_previewed_as_text_only_and_released_into_a_ticket_with_its_acknowledgement(
    app, alice_client
):
    html_spam = EmailMessage()
    html_spam["From"] = "Dana Doe <dana@customer.example>"
    html_spam["To"] = SUPPORT
    html_spam["Subject"] = "Invoice question"
    html_spam["Message-ID"] = "<invoice-1@customer.example>"
    html_spam["X-Spam-Flag"] = "YES"
    html_spam.set_content("Where is my invoice for March?")
    html_spam.add_alternative(
        '<p>Where is my invoice for March?<img src="https://tracker.example/pixel.gif"></p>',
        subtype="html",
    )
    result = ingest.ingest_raw(bytes(html_spam))
    assert result.outcome == "spam"

    listing = page(alice_client.get("/agent/mail/spam"))
    assert "Invoice question" in listing and "dana@customer.example" in listing
    review = page(alice_client.get(f"/agent/mail/{result.inbound_id}"))
    assert "Where is my invoice for March?" in review
    assert "tracker.example/pixel.gif" not in review.replace("X-Spam", "")  # never loaded

    answer = alice_client.post(f"/agent/mail/{result.inbound_id}/release", follow_redirects=True)

    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert f"was released: new ticket #{ticket.number}" in page(answer)
    assert "No mail is held as spam." in page(answer)
    assert ticket.subject == "Invoice question"
    acknowledgements = select(OutboxItem).where(OutboxItem.kind == ACKNOWLEDGE)
    assert len(db.session.execute(acknowledgements).scalars().all()) == 1
    assert len(_audits("mail.released")) == 1


def test_deleting_a_blocked_senders_mail_takes_it_off_the_spam_list_for_good(app, alice_client):
    blocklist.block("@spam.example")
    db.session.commit()
    result = ingest.ingest_raw(_mail())
    assert result.outcome == "blocked"

    answer = alice_client.post(f"/agent/mail/{result.inbound_id}/delete", follow_redirects=True)

    assert "was deleted from the spam list" in page(answer)
    assert "No mail is held as spam." in page(answer)
    assert ingest.ingest_raw(_mail()).outcome == "duplicate"  # the same mail is not listed again
    assert db.session.get(InboundMail, result.inbound_id).outcome == "deleted"
    assert len(_audits("mail.deleted")) == 1
    # Releasing what is gone is refused in words, not with a traceback.
    again = alice_client.post(f"/agent/mail/{result.inbound_id}/release", follow_redirects=True)
    assert "is not held as spam (any more)" in page(again)


def test_a_bounce_of_no_mail_of_ours_is_logged_on_the_spam_page(app, alice_client):
    result = ingest.ingest_raw(STRAY_BOUNCE.read_bytes())
    assert result.outcome == "bounce"

    listing = page(alice_client.get("/agent/mail/spam"))

    bounces = listing.split("Bounces we could not attach", 1)[1]
    assert f'id="mail-{result.inbound_id}"' in bounces
    assert "of no mail we sent" in bounces


def test_the_ticket_page_says_why_a_mail_reply_landed_there_and_marks_a_new_participant(
    app, alice_client
):
    first = ingest.ingest_raw(
        _mail("My printer jams.", sender="Carol <carol@example.com>", message_id="<c1@ex.com>")
    )
    reply = ingest.ingest_raw(
        _mail(
            "I am Carol's colleague: it jams for me too.",
            sender="Eve <eve@example.com>",
            subject="Re: Great offer",
            message_id="<e1@ex.com>",
            in_reply_to="<c1@ex.com>",
        )
    )
    assert (reply.outcome, reply.ticket_number) == ("reply", first.ticket_number)

    html = page(alice_client.get(f"/agent/tickets/{first.ticket_number}"))

    assert "Why this ticket" in html
    row = db.session.get(InboundMail, reply.inbound_id)
    assert f"<code>{row.rule}</code> {escape(row.explanation)}" in html
    assert "In-Reply-To names &lt;c1@ex.com&gt;" in html
    assert "From a new participant" in html
    assert f"/agent/mail/{reply.inbound_id}/original.eml" in html
    headers = page(alice_client.get(f"/agent/mail/{reply.inbound_id}"))
    assert "in-reply-to: &lt;c1@ex.com&gt;" in headers.lower()
