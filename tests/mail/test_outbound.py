"""What each kind of mail looks like on the wire: threading headers that carry the reply token,
the loop-safety headers of automatic mail, the ticket tag, text and HTML, attachments, the
recipient's language, and the "this is not solved" page that never changes state on a GET."""

import email
import email.policy
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.mail import tokens
from helpdesk.mail.delivery import MailStatus, SentMail
from helpdesk.mail.ingest import ingest_raw
from helpdesk.mail.mailboxes import add_mailbox, parse_imap_url
from helpdesk.mail.templates_store import KINDS, render_mail, reset_template, save_template
from helpdesk.notifications import set_agent_notification
from helpdesk.outbox.runner import run_due
from helpdesk.settings import set_setting
from helpdesk.tickets import services
from helpdesk.tickets.mentions import add_note_with_mentions
from helpdesk.tickets.models import Channel, Delivery
from helpdesk.tickets.states import Status
from helpdesk.validation import Upload
from tests.conftest import smtp_config

SUPPORT = "support@help.example"
SECRET = "test-secret-key"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "mails"
MARKER = "##- Please type your reply above this line -##"


@pytest.fixture
def app_config(app_config, smtp):
    """Real mail to the test SMTP server; the mails go out from our support address."""
    return {
        **app_config,
        **smtp_config(smtp),
        "HELPDESK_SUPPORT_ADDRESS": SUPPORT,
        "MAIL_DEFAULT_SENDER": SUPPORT,
        "HELPDESK_BASE_URL": "https://help.example",
        "HELPDESK_NAME": "Example Help",
    }


def _run() -> None:
    """Commit, then do what the outbox would: run every due item (and what they queue)."""
    db.session.commit()
    while run_due():
        pass


def _mails(smtp, to: str | None = None) -> list[email.message.EmailMessage]:
    parsed = [
        email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp.messages
    ]
    return [m for m in parsed if to is None or to in m["To"]]


def _only(smtp, to: str) -> email.message.EmailMessage:
    [mail] = _mails(smtp, to)
    return mail


def _parts(mail) -> tuple[str, str]:
    text = mail.get_body(preferencelist=("plain",)).get_content()
    html = mail.get_body(preferencelist=("html",)).get_content()
    return text, html


def _keep(kind: str, mail) -> None:
    """Keep the HTML of one mail of each kind for people to look at (test-artifacts/mails/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{kind}.html").write_text(_parts(mail)[1], encoding="utf-8")


def _assert_token_ids(mail, number: int) -> None:
    """Message-ID is <TOKEN.random@domain> and Reply-To is support+TOKEN@domain (CONTRACT.md)."""
    token = tokens.reply_token(number, SECRET)
    assert re.fullmatch(rf"<{re.escape(token)}\.[0-9a-f]{{16}}@help\.example>", mail["Message-ID"])
    assert tokens.find_tokens(mail["Message-ID"], SECRET) == [number]
    assert mail["Reply-To"].addresses[0].addr_spec == f"support+{token}@help.example"


def _assert_automatic(mail) -> None:
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"


def _customer_mail(subject: str, body: str, message_id: str, sender="ada@client.example"):
    return (
        f"From: Ada Lovelace <{sender}>\r\nTo: Support <{SUPPORT}>\r\n"
        f"Subject: {subject}\r\nMessage-ID: {message_id}\r\n"
        "References: <earlier@client.example>\r\n"
        "Date: Fri, 27 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def test_acknowledgement_of_a_mail_continues_the_customers_thread(app, smtp):
    raw = _customer_mail("Printer jams", "It jams on page 2.", "<first@client.example>")
    result = ingest_raw(raw)
    _run()

    mail = _only(smtp, "ada@client.example")
    number = result.ticket_number
    assert mail["Subject"] == f"[#{number}] Printer jams"
    assert mail["From"].addresses[0].addr_spec == SUPPORT
    assert mail["To"].addresses[0].addr_spec == "ada@client.example"
    _assert_token_ids(mail, number)
    _assert_automatic(mail)
    assert mail["In-Reply-To"] == "<first@client.example>"
    assert mail["References"].split() == ["<earlier@client.example>", "<first@client.example>"]
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    text, html = _parts(mail)
    for part in (text, html):
        assert MARKER in part
        assert f"#{number}" in part
        assert "https://help.example/t/" in part  # the signed link to the ticket
    _keep("acknowledge", mail)


def test_portal_and_api_tickets_are_acknowledged_but_agent_entered_ones_are_not(app, smtp, make):
    for channel in (Channel.PORTAL, Channel.API, Channel.AGENT):
        customer = make.customer(email=f"{channel}@client.example")
        make.ticket(requester=customer, channel=channel)
    _run()

    assert {m["To"].addresses[0].addr_spec for m in _mails(smtp)} == {
        "portal@client.example",
        "api@client.example",
    }


def _reply(ticket, agent, body="Try the other tray.", **kw):
    return services.add_reply(ticket, Actor.for_user(agent), body=body, channel=Channel.AGENT, **kw)


def test_agent_reply_goes_to_requester_and_ccs_with_its_files_and_threads(app, smtp, make):
    raw = _customer_mail("Invoice", "Where is my invoice?", "<inv-1@client.example>")
    number = ingest_raw(raw).ticket_number
    ticket = services.get_ticket(Actor.system(), number)
    agent = make.agent(name="Grace Hopper", email="grace@help.example")
    services.add_participant(ticket, Actor.for_user(agent), email="bob@client.example")
    _run()
    smtp.clear()

    message = _reply(
        ticket,
        agent,
        body="Here it is.",
        uploads=[Upload("invoice.pdf", "application/pdf", b"%PDF-1.4 invoice")],
    )
    _run()

    mail = _only(smtp, "ada@client.example")
    assert [a.addr_spec for a in mail["Cc"].addresses] == ["bob@client.example"]
    assert smtp.messages[-1].rcpt_tos == ["ada@client.example", "bob@client.example"]
    assert mail["Subject"] == f"Re: [#{number}] Invoice"
    assert mail["From"].addresses[0].display_name == "Grace Hopper (Example Help)"
    _assert_token_ids(mail, number)
    assert mail["Auto-Submitted"] is None  # a person wrote it
    assert mail["In-Reply-To"] == "<inv-1@client.example>"
    assert mail["References"].split() == ["<earlier@client.example>", "<inv-1@client.example>"]
    assert mail.get_content_type() == "multipart/mixed"
    alternative, attachment = mail.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert attachment.get_filename() == "invoice.pdf"
    assert attachment.get_content() == b"%PDF-1.4 invoice"
    text, html = _parts(mail)
    assert "Here it is." in text and "Here it is." in html
    db.session.expire_all()
    assert message.mail_message_id == mail["Message-ID"]  # inbound threading matches it
    assert message.delivery == Delivery.SENT and message.sent_at is not None
    _keep("reply", mail)


def test_a_reply_that_resolves_carries_the_not_solved_link_instead_of_a_second_mail(
    app, smtp, make
):
    customer = make.customer(email="cy@client.example")
    ticket = make.ticket(requester=customer)
    agent = make.agent()
    _run()
    smtp.clear()

    _reply(ticket, agent, body="Fixed it.")
    services.change_status(ticket, Actor.for_user(agent), Status.RESOLVED)
    _run()

    mail = _only(smtp, "cy@client.example")
    text, html = _parts(mail)
    assert "Fixed it." in text
    assert "https://help.example/not-solved/" in text and "/not-solved/" in html


@pytest.mark.parametrize(
    ("kind", "change", "subject_end"),
    [
        ("assigned", "assign", "– Grace Hopper is on it"),
        ("pending", Status.PENDING, "– waiting for your answer"),
        ("resolved", Status.RESOLVED, "– solved"),
        ("closed", Status.CLOSED, "– closed"),
    ],
)
def test_notices_are_tagged_automatic_and_threaded(app, smtp, make, kind, change, subject_end):
    customer = make.customer(email="dee@client.example")
    ticket = make.ticket(requester=customer, subject="VPN drops")
    agent = make.agent(name="Grace Hopper")
    _run()
    first = _only(smtp, "dee@client.example")  # the acknowledgement
    smtp.clear()

    if change == "assign":
        services.assign(ticket, Actor.for_user(make.admin()), assignee=agent)
    else:
        services.change_status(ticket, Actor.for_user(agent), change)
    _run()

    mail = _only(smtp, "dee@client.example")
    assert mail["Subject"] == f"[#{ticket.number}] VPN drops {subject_end}"
    _assert_token_ids(mail, ticket.number)
    _assert_automatic(mail)
    assert mail["Message-ID"] != first["Message-ID"]
    text, html = _parts(mail)
    assert MARKER in text and MARKER in html
    if kind == "resolved":
        assert "https://help.example/not-solved/" in text
    _keep(kind, mail)


def test_the_business_switches_a_notice_off(app, smtp, make):
    set_setting("notify_resolved", False)
    ticket = make.ticket(requester=make.customer(email="eve@client.example"))
    _run()
    smtp.clear()

    services.change_status(ticket, Actor.for_user(make.agent()), Status.RESOLVED)
    _run()

    assert _mails(smtp, "eve@client.example") == []


def test_not_solved_link_asks_first_and_only_the_button_reopens(app, smtp, make, client):
    ticket = make.ticket(requester=make.customer(email="fay@client.example"))
    services.change_status(ticket, Actor.for_user(make.agent()), Status.RESOLVED)
    _run()
    [link] = re.findall(r"https://help\.example(/not-solved/\S+)", _parts(_mails(smtp)[-1])[0])

    page = client.get(link)
    db.session.expire_all()
    assert page.status_code == 200 and "Reopen the request" in page.text
    assert ticket.status == Status.RESOLVED  # a link scanner opening it changes nothing

    done = client.post(link.split("?")[0], data={"comment": "Still jams."})
    db.session.expire_all()
    assert done.status_code == 200 and "open again" in done.text
    assert ticket.status == Status.OPEN
    assert ticket.messages[-1].body_text == "Still jams."


def test_agents_hear_of_new_assigned_replied_and_mentioned_tickets_unless_opted_out(
    app, smtp, make
):
    grace = make.agent(email="grace@help.example", name="Grace")
    alan = make.agent(email="alan@help.example", name="Alan")
    team = make.team("Printers", members=[grace, alan])
    set_agent_notification(Actor.for_user(alan), alan, "new_ticket", False)
    customer = make.customer(email="gil@client.example")
    ticket = make.ticket(requester=customer, team=team, subject="Toner")
    _run()
    new = _only(smtp, "grace@help.example")
    assert _mails(smtp, "alan@help.example") == []  # he turned it off
    assert new["Subject"] == f"[#{ticket.number}] New ticket: Toner"
    assert new["Auto-Submitted"] == "auto-generated" and new["Reply-To"] is None
    assert "https://help.example/agent/tickets/" in _parts(new)[0]
    _keep("agent_new_ticket", new)
    smtp.clear()

    services.assign(ticket, Actor.for_user(grace), assignee=alan)
    _run()
    assigned = _only(smtp, "alan@help.example")
    assert assigned["Subject"] == f"[#{ticket.number}] Assigned to you: Toner"
    assert "Grace assigned ticket" in _parts(assigned)[0]
    _keep("agent_assigned", assigned)
    smtp.clear()

    services.add_reply(ticket, Actor.for_user(customer), body="Any news?", channel=Channel.PORTAL)
    _run()
    replied = _only(smtp, "alan@help.example")
    assert "Any news?" in _parts(replied)[0]
    _keep("agent_customer_reply", replied)
    smtp.clear()

    add_note_with_mentions(ticket, Actor.for_user(alan), body="@grace can you check the toner?")
    _run()
    mention = _only(smtp, "grace@help.example")
    assert mention["Subject"] == f"[#{ticket.number}] You were mentioned: Toner"
    assert "can you check the toner?" in _parts(mention)[0]
    assert _mails(smtp, "gil@client.example") == []  # a note never reaches the customer
    _keep("agent_mention", mention)


@pytest.mark.parametrize(
    ("locale", "hello", "marker_word"),
    [
        ("en", "Hello Ana,", "reply"),
        ("pt_BR", "Olá, Ana,", "resposta"),
        ("ru", "Здравствуйте, Ana!", "ответ"),
    ],
)
def test_mails_speak_the_recipients_language(app, smtp, make, locale, hello, marker_word):
    customer = make.customer(email=f"ana.{locale}@client.example", name="Ana", locale=locale)
    ticket = make.ticket(requester=customer, subject="Ajuda")
    services.change_status(ticket, Actor.for_user(make.agent()), Status.RESOLVED)
    _run()

    acknowledgement, resolved = _mails(smtp, customer.email)
    for mail in (acknowledgement, resolved):
        text, html = _parts(mail)
        assert hello in text and hello in html
        assert re.search(rf"##- .*{marker_word}.* -##", text, re.IGNORECASE)
    assert f"[#{ticket.number}]" in resolved["Subject"]
    if locale != "en":
        assert "solved" not in resolved["Subject"]


def test_every_kind_renders_in_every_language_with_only_known_values(app):
    from helpdesk.mail.templates_store import sample_context

    for kind in KINDS:
        for locale in ("en", "pt_BR", "ru"):
            mail = render_mail(kind, locale, sample_context())
            about = "Scans of the contract" if kind == "too_large" else "1042"
            assert about in mail.subject
            assert mail.text.strip() and "<p" in mail.html


def test_a_business_template_overrides_the_file_in_its_language_only(app, smtp, make):
    admin = Actor.for_user(make.admin())
    save_template(
        admin,
        "acknowledge",
        "en",
        subject="We got it: {{ ticket.subject }}",
        body_text="Dear {{ recipient.name }}, thanks! {{ ticket.reference }}",
        body_html="<p>Dear {{ recipient.name }}</p>",
    )
    make.ticket(requester=make.customer(email="hal@client.example", name="<Hal>"))
    make.ticket(requester=make.customer(email="ida@client.example", locale="ru"))
    _run()

    english = _only(smtp, "hal@client.example")
    assert english["Subject"].startswith("[#") and english["Subject"].endswith(
        "We got it: Printer is broken"
    )
    assert _parts(english)[0].startswith("Dear <Hal>, thanks!")
    assert "Dear &lt;Hal&gt;" in _parts(english)[1]  # escaped in HTML
    assert "Здравствуйте" in _parts(_only(smtp, "ida@client.example"))[0]
    reset_template(admin, "acknowledge", "en")


@pytest.mark.parametrize(
    "body",
    [
        "{{ recipient.__class__.__mro__ }}",  # the sandbox refuses internals
        "{{ password_hash }}",  # only the documented values exist
        "{% for %}",  # and it must parse
    ],
)
def test_a_business_template_that_reaches_too_far_is_refused(app, make, body):
    from helpdesk.errors import ValidationError

    with pytest.raises(ValidationError):
        save_template(
            Actor.for_user(make.admin()), "closed", "en", subject="x", body_text=body, body_html=""
        )


def test_sent_mails_are_logged_for_the_rate_limits(app, smtp, make):
    ticket = make.ticket(requester=make.customer(email="joy@client.example"))
    _run()

    [row] = db.session.execute(select(SentMail)).scalars()
    assert (row.kind, row.to_address, row.automatic) == ("acknowledge", "joy@client.example", True)
    assert row.status == MailStatus.SENT and row.ticket_id == ticket.id
    assert row.mail_message_id == _only(smtp, "joy@client.example")["Message-ID"]


def test_mail_to_another_of_our_addresses_is_answered_from_that_address(app, smtp, make):
    """A file ingested without a mailbox (`flask mail ingest`): the To header decides."""
    add_mailbox(
        Actor.system(),
        name="billing",
        imap=parse_imap_url("imap://billing%40help.example@127.0.0.1:1/INBOX"),
        secret="x",
        address="billing@help.example",
    )
    raw = _customer_mail("Refund", "Please refund.", "<refund@client.example>")
    ingest_raw(raw.replace(f"To: Support <{SUPPORT}>".encode(), b"To: billing@help.example"))
    _run()

    mail = _only(smtp, "ada@client.example")
    assert mail["From"].addresses[0].addr_spec == "billing@help.example"
    assert mail["Reply-To"].addresses[0].addr_spec.startswith("billing+t")
    assert mail["Message-ID"].endswith("@help.example>")


def test_plus_addressing_can_be_switched_off_or_use_another_separator(app, smtp, make):
    set_setting("reply_to_separator", "-")
    first = make.ticket(requester=make.customer(email="kai@client.example"))
    _run()
    set_setting("reply_to_plus", False)
    make.ticket(requester=make.customer(email="lee@client.example"))
    _run()

    token = tokens.reply_token(first.number, SECRET)
    dashed = _only(smtp, "kai@client.example")["Reply-To"].addresses[0].addr_spec
    assert dashed == f"support-{token}@help.example"
    plain = _only(smtp, "lee@client.example")["Reply-To"].addresses[0].addr_spec
    assert plain == SUPPORT


def test_a_mail_too_large_to_take_in_is_answered_once_in_its_thread(app, smtp):
    app.config["HELPDESK_MAX_MAIL_MB"] = 0.01
    raw = _customer_mail("Scans", "x" * 20_000, "<big@client.example>")
    result = ingest_raw(raw)
    _run()

    assert result.outcome == "too_large" and result.ticket_number is None
    mail = _only(smtp, "ada@client.example")
    assert mail["Subject"] == "Your mail was too large: Scans"
    assert mail["In-Reply-To"] == "<big@client.example>"
    _assert_automatic(mail)
    text, html = _parts(mail)
    assert "is larger than the 0.01 MB we accept" in text and "Scans" in html
    _keep("too_large", mail)


def test_a_broken_or_revoked_not_solved_link_changes_nothing(app, make, client):
    ticket = make.ticket(requester=make.customer(email="mo@client.example"))
    services.change_status(ticket, Actor.for_user(make.agent()), Status.RESOLVED)
    db.session.commit()

    assert client.get("/not-solved/forged-token").status_code == 404
    assert client.post("/not-solved/forged-token").status_code == 404
    db.session.expire_all()
    assert ticket.status == Status.RESOLVED


def test_an_open_ticket_has_nothing_to_reopen(app, make, client):
    from helpdesk.tickets.links import make_link_token

    ticket = make.ticket(requester=make.customer(email="ned@client.example"))
    db.session.commit()

    page = client.post(f"/not-solved/{make_link_token(ticket)}")
    assert page.status_code == 200 and "nothing to reopen" in page.text
