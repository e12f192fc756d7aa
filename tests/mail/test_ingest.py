"""Ingesting one raw mail on a real database: the right ticket, the right record, exactly once,
and nothing lost when processing fails."""

from email.message import EmailMessage

import pytest
from sqlalchemy import func, select

from helpdesk import storage
from helpdesk.accounts.actor import Actor
from helpdesk.contacts.models import ContactEmail
from helpdesk.contacts.services import find_contact_by_email, find_or_create_contact
from helpdesk.extensions import db
from helpdesk.mail import ingest, routing
from helpdesk.mail.models import InboundMail
from helpdesk.mail.tokens import message_id as our_message_id
from helpdesk.mail.tokens import reply_to_address
from helpdesk.notifications import ACKNOWLEDGE
from helpdesk.outbox.models import OutboxItem
from helpdesk.tickets import blocklist
from helpdesk.tickets.models import Attachment, Channel, Message, MessageKind, Ticket
from helpdesk.tickets.services import MailHeaders, add_reply, change_status, merge
from helpdesk.tickets.states import Status

SUPPORT = "support@help.example"
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def app_config(app_config):
    app_config["HELPDESK_SUPPORT_ADDRESS"] = SUPPORT
    return app_config


def _mail(
    body="My printer jams on every page.",
    *,
    sender="Alice Example <alice@example.com>",
    to=SUPPORT,
    subject="Printer jams",
    message_id="<m1@alice.example.com>",
    **headers,
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    if message_id:
        mail["Message-ID"] = message_id
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return bytes(mail)


def _secret(app) -> str:
    return app.config["SECRET_KEY"]


def _ticket(number: int) -> Ticket:
    return db.session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()


def _count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _acknowledgements() -> int:
    return _count(OutboxItem, OutboxItem.kind == ACKNOWLEDGE)


def _agent_mail_to(ticket: Ticket, agent, app) -> str:
    """An agent's reply that went out by mail, with the Message-ID our mails carry."""
    sent_id = our_message_id(ticket.number, _secret(app), "help.example")
    add_reply(
        ticket,
        Actor.for_user(agent),
        body="Please try a new cartridge.",
        channel=Channel.AGENT,
        mail=MailHeaders(message_id=sent_id),
    )
    db.session.commit()
    return sent_id


# ---- new tickets -----------------------------------------------------------------------------


def test_a_new_mail_opens_a_ticket_for_its_sender_and_queues_the_acknowledgement(app):
    result = ingest.ingest_raw(_mail(Cc="Bob <bob@example.com>, support@help.example"))

    assert result.outcome == "new_ticket"
    ticket = _ticket(result.ticket_number)
    assert ticket.subject == "Printer jams"
    assert ticket.channel == Channel.EMAIL
    assert ticket.requester.primary_email == "alice@example.com"
    assert ticket.requester.name == "Alice Example"
    assert [p.contact.primary_email for p in ticket.participants] == ["bob@example.com"]
    first = ticket.messages[0]
    assert first.body_text == "My printer jams on every page."
    assert first.mail_message_id == "<m1@alice.example.com>"
    assert first.raw_sha256 == db.session.get(InboundMail, result.inbound_id).raw_sha256
    assert not first.automatic
    assert _acknowledgements() == 1
    row = db.session.get(InboundMail, result.inbound_id)
    assert (row.outcome, row.rule, row.ticket_id, row.message_id) == (
        "new_ticket",
        "new",
        ticket.id,
        first.id,
    )
    assert storage.read_blob(row.raw_sha256).startswith(b"From: Alice")


def test_html_attachments_and_inline_images_arrive_with_the_ticket(app):
    mail = EmailMessage()
    mail["From"] = "alice@example.com"
    mail["To"] = SUPPORT
    mail["Subject"] = "Screenshot"
    mail["Message-ID"] = "<html1@alice.example.com>"
    mail.set_content("See the picture.")
    mail.add_alternative(
        '<p onclick="steal()">See <img src="cid:pic1"><script>alert(1)</script></p>',
        subtype="html",
    )
    mail.get_payload()[1].add_related(PIXEL, "image", "png", cid="<pic1>")
    mail.add_attachment(b"log line\n", maintype="text", subtype="plain", filename="printer.log")

    ticket = _ticket(ingest.ingest_raw(bytes(mail)).ticket_number)

    message = ticket.messages[0]
    assert 'src="cid:pic1"' in message.body_html
    assert "script" not in message.body_html and "onclick" not in message.body_html
    files = {a.filename: a for a in message.attachments}
    assert files["printer.log"].size == 9 and not files["printer.log"].inline
    image = next(a for a in message.attachments if a.content_type == "image/png")
    assert image.inline and image.content_id == "pic1"
    assert storage.read_blob(image.sha256) == PIXEL


def test_a_mail_without_subject_or_text_still_becomes_a_ticket(app):
    result = ingest.ingest_raw(_mail("", subject=""))
    ticket = _ticket(result.ticket_number)
    assert ticket.subject == "(no subject)"
    assert ticket.messages[0].body_text == "(no text)"


def test_a_mail_without_a_usable_sender_becomes_a_ticket_nobody_is_told_about(app):
    raw = b"Subject: who am I\nMessage-ID: <anon@x.example>\n\nNo From header at all.\n"
    result = ingest.ingest_raw(raw)
    assert result.outcome == "new_ticket"
    ticket = _ticket(result.ticket_number)
    assert ticket.requester.primary_email is None
    assert _acknowledgements() == 0
    assert "no sender address" in result.detail


def test_bulk_mail_opens_a_ticket_but_is_not_acknowledged(app):
    result = ingest.ingest_raw(_mail(Precedence="bulk", subject="Newsletter"))
    assert result.outcome == "new_ticket"
    assert _ticket(result.ticket_number).messages[0].automatic
    assert _acknowledgements() == 0
    assert "Precedence: bulk" in result.detail


# ---- replies ---------------------------------------------------------------------------------


def test_a_reply_to_our_plus_address_lands_on_the_ticket_and_reopens_it(app, make):
    agent = make.agent()
    first = ingest.ingest_raw(_mail())
    ticket = _ticket(first.ticket_number)
    change_status(ticket, Actor.for_user(agent), Status.PENDING)
    db.session.commit()
    to = reply_to_address(SUPPORT, ticket.number, _secret(app))

    result = ingest.ingest_raw(
        _mail("New cartridge, same problem.", to=to, subject="hm", message_id="<m2@alice>")
    )

    assert (result.outcome, result.ticket_number) == ("reply", ticket.number)
    db.session.refresh(ticket)
    assert ticket.status == Status.OPEN
    assert ticket.messages[-1].body_text == "New cartridge, same problem."
    row = db.session.get(InboundMail, result.inbound_id)
    assert row.rule == "token" and to in row.explanation
    assert _acknowledgements() == 1  # only the first mail's


def test_a_reply_by_references_keeps_only_the_new_text(app):
    first = ingest.ingest_raw(_mail())
    reply = _mail(
        "Still broken.\n\nOn Mon, 3 Nov 2025 at 10:00, Alice <alice@example.com> wrote:\n"
        "> My printer jams on every page.\n",
        subject="Re: Printer jams",
        message_id="<m2@alice.example.com>",
        In_Reply_To="<m1@alice.example.com>",
        References="<m1@alice.example.com>",
    )

    result = ingest.ingest_raw(reply)

    assert (result.outcome, result.ticket_number) == ("reply", first.ticket_number)
    assert _ticket(first.ticket_number).messages[-1].body_text == "Still broken."
    assert db.session.get(InboundMail, result.inbound_id).rule == "references"


def test_a_subject_tag_threads_only_the_tickets_own_people(app):
    first = ingest.ingest_raw(_mail())
    tag = f"Re: [#{first.ticket_number}] Printer jams"

    own = ingest.ingest_raw(_mail("more", subject=tag, message_id="<m2@alice>"))
    stranger = ingest.ingest_raw(
        _mail("hi", sender="mallory@evil.example", subject=tag, message_id="<m3@evil>")
    )

    assert (own.outcome, own.ticket_number) == ("reply", first.ticket_number)
    assert stranger.outcome == "new_ticket"
    assert stranger.ticket_number != first.ticket_number
    why = db.session.get(InboundMail, stranger.inbound_id).explanation
    assert "mallory@evil.example is not on that ticket" in why


def test_a_colleague_answering_a_forward_joins_as_a_new_participant(app):
    first = ingest.ingest_raw(_mail())
    to = reply_to_address(SUPPORT, first.ticket_number, _secret(app))

    result = ingest.ingest_raw(
        _mail("I can help.", sender="Dan <dan@example.com>", to=to, message_id="<d1@example.com>")
    )

    ticket = _ticket(first.ticket_number)
    assert result.outcome == "reply"
    assert ticket.messages[-1].from_new_participant
    assert "dan@example.com" in [p.contact.primary_email for p in ticket.participants]
    assert "new participant" in result.detail


def test_a_reply_to_a_closed_ticket_opens_a_linked_follow_up(app, make):
    agent = make.agent()
    first = ingest.ingest_raw(_mail())
    ticket = _ticket(first.ticket_number)
    change_status(ticket, Actor.for_user(agent), Status.CLOSED)
    db.session.commit()

    result = ingest.ingest_raw(
        _mail("again", message_id="<m2@alice>", In_Reply_To="<m1@alice.example.com>")
    )

    assert result.outcome == "new_ticket"
    follow_up = _ticket(result.ticket_number)
    assert follow_up.follow_up_of_id == ticket.id
    assert (
        f"#{ticket.number} is closed" in db.session.get(InboundMail, result.inbound_id).explanation
    )


def test_a_reply_to_a_merged_ticket_goes_to_the_ticket_it_was_merged_into(app, make):
    agent = make.agent()
    source = _ticket(ingest.ingest_raw(_mail()).ticket_number)
    target = _ticket(ingest.ingest_raw(_mail("other", message_id="<m9@alice>")).ticket_number)
    merge(source, target, Actor.for_user(agent))
    db.session.commit()
    to = reply_to_address(SUPPORT, source.number, _secret(app))

    result = ingest.ingest_raw(_mail("follow", to=to, message_id="<m3@alice>"))

    assert (result.outcome, result.ticket_number) == ("reply", target.number)
    why = db.session.get(InboundMail, result.inbound_id).explanation
    assert f"#{source.number} was merged into #{target.number}" in why


# ---- exactly once ----------------------------------------------------------------------------


def test_the_same_mail_twice_is_a_duplicate_and_changes_nothing(app):
    raw = _mail()
    first = ingest.ingest_raw(raw)
    second = ingest.ingest_raw(raw)
    # The same mail delivered to a second mailbox: other trace headers, same mail.
    other_box = b"Delivered-To: sales@help.example\nReceived: from mx2\n" + raw
    third = ingest.ingest_raw(other_box, mailbox_id=2, uidvalidity=1, uid=9)

    for again in (second, third):
        assert again.outcome == "duplicate"
        assert (again.ticket_number, again.inbound_id) == (first.ticket_number, first.inbound_id)
    assert _count(Ticket) == 1 and _count(InboundMail) == 1 and _acknowledgements() == 1


def test_the_same_mailbox_uid_twice_is_a_duplicate_even_if_the_bytes_differ(app):
    first = ingest.ingest_raw(_mail(), mailbox_id=1, uidvalidity=7, uid=3)
    again = ingest.ingest_raw(_mail(message_id="<other@x>"), mailbox_id=1, uidvalidity=7, uid=3)
    new_validity = ingest.ingest_raw(
        _mail(message_id="<other@x>"), mailbox_id=1, uidvalidity=8, uid=3
    )
    assert again.outcome == "duplicate" and again.inbound_id == first.inbound_id
    assert new_validity.outcome == "new_ticket"


def test_a_mail_without_message_id_is_deduplicated_by_its_raw_bytes(app):
    raw = _mail(message_id=None)
    first = ingest.ingest_raw(raw)
    assert db.session.get(InboundMail, first.inbound_id).mail_message_id.startswith("sha256:")
    assert ingest.ingest_raw(raw).outcome == "duplicate"


def test_another_mail_reusing_a_message_id_is_not_lost_as_a_duplicate(app):
    ingest.ingest_raw(_mail("first question"))
    second = ingest.ingest_raw(_mail("a different question", subject="Scanner"))
    assert second.outcome == "new_ticket"
    assert _count(Ticket) == 2


# ---- automatic mail --------------------------------------------------------------------------


def test_an_out_of_office_is_attached_without_reopening_or_acknowledging(app, make):
    agent = make.agent()
    ticket = _ticket(ingest.ingest_raw(_mail()).ticket_number)
    sent_id = _agent_mail_to(ticket, agent, app)
    change_status(ticket, Actor.for_user(agent), Status.RESOLVED)
    db.session.commit()
    ooo = _mail(
        "I am away until Monday.",
        subject=f"Automatic reply: [#{ticket.number}] Printer jams",
        message_id="<ooo@alice>",
        In_Reply_To=sent_id,
        Auto_Submitted="auto-replied",
    )

    result = ingest.ingest_raw(ooo)

    assert (result.outcome, result.ticket_number) == ("auto_reply", ticket.number)
    db.session.refresh(ticket)
    assert ticket.status == Status.RESOLVED
    last = ticket.messages[-1]
    assert last.automatic and last.body_text == "I am away until Monday."
    assert _acknowledgements() == 1


def test_an_auto_reply_to_nothing_of_ours_is_only_recorded(app):
    result = ingest.ingest_raw(
        _mail("Away.", subject="Out of office", X_Autoreply="yes", message_id="<o@x>")
    )
    assert (result.outcome, result.ticket_number) == ("auto_reply", None)
    assert _count(Ticket) == 0 and _acknowledgements() == 0


def _bounce(returned_id: str, recipient: str = "bob@example.com") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
        f"To: {SUPPORT}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Message-ID: <dsn-1@mx.example.net>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n\n"
        "--B\nContent-Type: message/rfc822\n\n"
        f"Message-ID: {returned_id}\nFrom: {SUPPORT}\nTo: {recipient}\nSubject: Re: Printer\n\n"
        "Please try a new cartridge.\n--B--\n"
    ).encode()


def test_a_bounce_marks_the_address_failing_and_is_attached_for_agents(app, make):
    agent = make.agent()
    bob = find_or_create_contact("bob@example.com", "Bob")
    ticket = make.ticket(requester=bob)
    db.session.commit()
    sent_id = _agent_mail_to(ticket, agent, app)

    result = ingest.ingest_raw(_bounce(sent_id))

    assert (result.outcome, result.ticket_number) == ("bounce", ticket.number)
    entry = db.session.execute(
        select(ContactEmail).where(ContactEmail.email == "bob@example.com")
    ).scalar_one()
    assert entry.bouncing
    note = ticket.messages[-1]
    assert note.automatic and note.kind == MessageKind.NOTE
    assert "Delivery failed for bob@example.com: 5.1.1" in note.body_text
    assert _count(Ticket) == 1
    assert "marked as failing: bob@example.com" in result.detail


def test_a_bounce_of_a_mail_we_never_sent_is_recorded_and_marks_nobody(app):
    find_or_create_contact("bob@example.com")
    db.session.commit()
    result = ingest.ingest_raw(_bounce("<not-ours@elsewhere.example>"))
    assert (result.outcome, result.ticket_number) == ("bounce", None)
    assert "of no mail we sent" in result.detail
    assert _count(Ticket) == 0
    assert _count(ContactEmail, ContactEmail.bouncing.is_(True)) == 0


def test_a_read_receipt_is_attached_as_automatic(app):
    first = ingest.ingest_raw(_mail())
    receipt = (
        b"From: alice@example.com\nTo: support@help.example\nSubject: Read: Printer jams\n"
        b"Message-ID: <mdn@alice>\nIn-Reply-To: <m1@alice.example.com>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="B"\n\n'
        b"--B\nContent-Type: text/plain\n\nYour message was displayed.\n"
        b"--B\nContent-Type: message/disposition-notification\n\n"
        b"Final-Recipient: rfc822; alice@example.com\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\n--B--\n"
    )
    result = ingest.ingest_raw(receipt)
    assert (result.outcome, result.ticket_number) == ("receipt", first.ticket_number)
    assert _ticket(first.ticket_number).messages[-1].automatic


# ---- spam, blocked senders, loops --------------------------------------------------------------


def test_mail_flagged_as_spam_is_held_and_can_be_released(app):
    result = ingest.ingest_raw(_mail(X_Spam_Flag="YES"))
    assert (result.outcome, result.ticket_number) == ("spam", None)
    assert _count(Ticket) == 0 and _acknowledgements() == 0

    released = ingest.release(result.inbound_id)

    assert released.outcome == "new_ticket" and released.inbound_id == result.inbound_id
    assert _ticket(released.ticket_number).requester.primary_email == "alice@example.com"


def test_mail_from_a_blocked_domain_is_held_as_blocked(app):
    blocklist.block("@evil.example")
    db.session.commit()
    result = ingest.ingest_raw(_mail(sender="mallory@evil.example", X_Spam_Status="No"))
    assert (result.outcome, result.ticket_number) == ("blocked", None)
    assert _count(Ticket) == 0


@pytest.mark.parametrize("how", ["from", "message-id", "x-loop"])
def test_our_own_mail_coming_back_is_dropped(app, how):
    headers = {"sender": SUPPORT} if how == "from" else {}
    if how == "message-id":
        headers["message_id"] = our_message_id(1000, _secret(app), "help.example")
    if how == "x-loop":
        headers["X_Loop"] = SUPPORT
    result = ingest.ingest_raw(_mail(**headers))
    assert result.outcome == "own_mail_loop"
    assert _count(Ticket) == 0 and _acknowledgements() == 0


# ---- quarantine ------------------------------------------------------------------------------


def test_a_failure_quarantines_the_mail_and_a_retry_after_the_fix_processes_it(app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("ticket service is down")

    monkeypatch.setattr(routing, "open_ticket", broken)  # fault injection
    result = ingest.ingest_raw(_mail())

    assert (result.outcome, result.ticket_number) == ("quarantined", None)
    row = db.session.get(InboundMail, result.inbound_id)
    assert "RuntimeError: ticket service is down" in row.error
    assert storage.read_blob(row.raw_sha256) == _mail()
    assert _count(Ticket) == 0 and _count(Message) == 0
    assert ingest.ingest_raw(_mail()).outcome == "duplicate"  # the poller re-fetching it

    monkeypatch.undo()
    retried = ingest.retry(result.inbound_id)

    assert retried.outcome == "new_ticket" and retried.inbound_id == result.inbound_id
    row = db.session.get(InboundMail, result.inbound_id)
    assert row.attempts == 2 and row.error is None
    assert _acknowledgements() == 1


def test_a_mail_over_the_size_limit_is_kept_raw_and_the_sender_told(app):
    app.config["HELPDESK_MAX_MAIL_MB"] = 0.001  # about 1 KB
    raw = _mail("x" * 5000)

    result = ingest.ingest_raw(raw)

    assert result.outcome == "too_large"
    row = db.session.get(InboundMail, result.inbound_id)
    assert row.sender == "alice@example.com" and row.subject == "Printer jams"
    assert "over the limit" in row.error
    assert storage.read_blob(row.raw_sha256) == raw
    notice = db.session.execute(
        select(OutboxItem).where(OutboxItem.kind == ingest.TOO_LARGE_NOTICE)
    ).scalar_one()
    assert '"to": "alice@example.com"' in notice.payload
    assert _count(Ticket) == 0
    assert ingest.ingest_raw(raw).outcome == "duplicate"

    app.config["HELPDESK_MAX_MAIL_MB"] = 25
    assert ingest.retry(result.inbound_id).outcome == "new_ticket"


def test_a_too_large_mail_names_a_fractional_limit_with_its_decimal(app):
    app.config["HELPDESK_MAX_MAIL_MB"] = 0.1
    raw = _mail("x" * 200_000)

    result = ingest.ingest_raw(raw)

    assert result.outcome == "too_large"
    assert "the limit is 0.1 MB" in result.detail


# ---- the command line ------------------------------------------------------------------------


def test_flask_mail_ingest_prints_one_line_per_file(app, runner, tmp_path):
    first, again, spam = tmp_path / "a.eml", tmp_path / "b.eml", tmp_path / "c.eml"
    first.write_bytes(_mail())
    again.write_bytes(_mail())
    spam.write_bytes(_mail("buy", message_id="<s@x>", X_Spam_Flag="YES"))

    result = runner.invoke(args=["mail", "ingest", str(first), str(again), str(spam)])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    number = _count(Ticket) and db.session.execute(select(Ticket.number)).scalar_one()
    assert lines[0].startswith(f"{first}: new ticket #{number}")
    assert lines[1].startswith(f"{again}: duplicate #{number}")
    assert lines[2].startswith(f"{spam}: spam (")
    assert len(lines) == 3


def test_flask_mail_quarantine_lists_shows_and_retries(app, runner, monkeypatch):
    monkeypatch.setattr(routing, "open_ticket", lambda *a, **k: 1 / 0)  # fault injection
    result = ingest.ingest_raw(_mail())
    monkeypatch.undo()

    listed = runner.invoke(args=["mail", "quarantine"])
    shown = runner.invoke(args=["mail", "quarantine", "show", str(result.inbound_id)])
    retried = runner.invoke(args=["mail", "quarantine", "retry", "--all"])

    assert f"{result.inbound_id}  " in listed.output and "ZeroDivisionError" in listed.output
    raw_path = str(storage.blob_path(db.session.get(InboundMail, result.inbound_id).raw_sha256))
    assert raw_path in shown.output
    assert "From:" in shown.output and "alice@example.com" in shown.output
    assert "Subject:    Printer jams" in shown.output
    assert "ZeroDivisionError" in shown.output
    assert "new ticket #" in retried.output
    assert "1 of 1 processed; 0 still in quarantine." in retried.output
    assert "empty" in runner.invoke(args=["mail", "quarantine", "list"]).output


def test_flask_mail_spam_release_makes_the_mail_a_ticket(app, runner):
    held = ingest.ingest_raw(_mail(X_Spam_Flag="YES"))
    listed = runner.invoke(args=["mail", "spam"])
    released = runner.invoke(args=["mail", "spam", "release", str(held.inbound_id)])
    assert "alice@example.com" in listed.output and "X-Spam-Flag" in listed.output
    assert f"{held.inbound_id}: new ticket #" in released.output
    assert find_contact_by_email("alice@example.com") is not None
    assert _count(Attachment) == 0


def test_a_twin_committed_by_another_process_first_makes_this_one_a_duplicate(app, monkeypatch):
    first = ingest.ingest_raw(_mail())
    checks = []

    def before_the_twin_committed(identities):
        checks.append(identities)
        return {}

    # Fault injection: the batch's look-up ran before the twin committed; the unique index
    # decides, the savepoint undoes the ticket this attempt made, and a second look finds it.
    monkeypatch.setattr(ingest, "_earlier_by_identities", before_the_twin_committed)
    again = ingest.ingest_raw(_mail())

    assert (again.outcome, again.inbound_id) == ("duplicate", first.inbound_id)
    assert len(checks) == 1
    assert _count(Ticket) == 1 and _count(InboundMail) == 1 and _count(Message) == 1
    assert _acknowledgements() == 1


def test_a_reply_by_token_without_a_sender_address_is_kept_on_the_ticket(app):
    first = ingest.ingest_raw(_mail())
    to = reply_to_address(SUPPORT, first.ticket_number, _secret(app))
    raw = f"To: {to}\nSubject: photo\nMessage-ID: <nofrom@x>\n\nHere it is.\n".encode()

    result = ingest.ingest_raw(raw)

    assert (result.outcome, result.ticket_number) == ("reply", first.ticket_number)
    last = _ticket(first.ticket_number).messages[-1]
    assert last.body_text == "Here it is." and last.from_new_participant


def test_a_cc_to_one_of_our_plus_addresses_does_not_become_a_participant(app):
    result = ingest.ingest_raw(_mail(Cc="support+sales@help.example, Eve <eve@example.com>"))
    participants = _ticket(result.ticket_number).participants
    assert [p.contact.primary_email for p in participants] == ["eve@example.com"]
