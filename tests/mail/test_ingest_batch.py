"""Ingesting a batch of mails in one transaction: a bad mail is quarantined without undoing
the others, nothing is recorded before the files are on disk, and a batch seen again (the
poller died before marking it on the server) changes nothing."""

import json
import threading
import time
from email.message import EmailMessage

import pytest
from sqlalchemy import event, func, select

from helpdesk import outbox, storage
from helpdesk.contacts.models import Contact
from helpdesk.contacts.services import create_organization, find_contact_by_email
from helpdesk.extensions import db
from helpdesk.mail import ingest, prepare, routing
from helpdesk.mail.ingest import Arrival
from helpdesk.mail.models import InboundMail
from helpdesk.notifications import ACKNOWLEDGE
from helpdesk.outbox import dispatch
from helpdesk.outbox.models import OutboxItem
from helpdesk.outbox.runner import HANDLERS
from helpdesk.tickets import blocklist
from helpdesk.tickets.models import Attachment, AuditEvent, Ticket
from tests.mail.test_ingest import PIXEL, SUPPORT, _mail


@pytest.fixture
def app_config(app_config):
    app_config["HELPDESK_SUPPORT_ADDRESS"] = SUPPORT
    return app_config


def _count(model, *where) -> int:
    db.session.rollback()  # what was committed, not what this session holds
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _arrivals(*mails: bytes, mailbox_id=1, uidvalidity=7) -> list[Arrival]:
    return [Arrival(raw, mailbox_id, uidvalidity, uid) for uid, raw in enumerate(mails, 1)]


def _three_mails() -> list[bytes]:
    return [
        _mail(subject=f"Request {n}", message_id=f"<r{n}@alice.example.com>", sender=sender)
        for n, sender in enumerate(("alice@example.com", "bob@example.com", "carol@example.com"))
    ]


def test_a_broken_mail_is_quarantined_and_the_rest_of_its_batch_commits(app, monkeypatch):
    real_open_ticket = routing.open_ticket

    def fails_for_bob(actor, **kwargs):
        if kwargs["requester"].primary_email == "bob@example.com":
            raise RuntimeError("ticket service is down")
        return real_open_ticket(actor, **kwargs)

    monkeypatch.setattr(routing, "open_ticket", fails_for_bob)  # fault injection
    results = ingest.ingest_batch(_arrivals(*_three_mails()), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket", "quarantined", "new_ticket"]
    assert sorted(db.session.execute(select(Ticket.subject)).scalars()) == [
        "Request 0",
        "Request 2",
    ]
    broken = db.session.get(InboundMail, results[1].inbound_id)
    assert "RuntimeError: ticket service is down" in broken.error
    assert (broken.sender, broken.uid) == ("bob@example.com", 2)
    assert storage.read_blob(broken.raw_sha256) == _three_mails()[1]
    assert _count(InboundMail) == 3
    assert _count(OutboxItem, OutboxItem.kind == ACKNOWLEDGE) == 2  # bob's went with his mail

    monkeypatch.undo()
    assert ingest.retry(broken.id).outcome == "new_ticket"
    assert _count(Ticket) == 3


def test_a_mail_the_parser_fails_on_is_quarantined_and_the_rest_of_its_batch_commits(
    app, monkeypatch
):
    real_parse = prepare.parse_message

    def chokes_on_bob(raw, *args):
        if b"bob@example.com" in raw and len(args) == 1:  # the full parse, not the headers
            raise ValueError("malformed MIME structure")
        return real_parse(raw, *args)

    monkeypatch.setattr(prepare, "parse_message", chokes_on_bob)  # fault injection
    results = ingest.ingest_batch(_arrivals(*_three_mails()), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket", "quarantined", "new_ticket"]
    broken = db.session.get(InboundMail, results[1].inbound_id)
    assert "ValueError: malformed MIME structure" in broken.error
    assert broken.sender == "bob@example.com" and broken.subject == "Request 1"
    assert _count(Ticket) == 2 and _count(InboundMail) == 3


def test_a_batch_whose_files_cannot_be_synced_records_nothing(app, monkeypatch):
    def disk_fails(self):
        raise OSError(5, "Input/output error")

    # Fault injection at the last step before the commit: had a savepoint's release committed
    # on SQLite, the first mails would be recorded (and so marked done on the server) by now.
    monkeypatch.setattr(storage.PendingFiles, "sync", disk_fails)
    with pytest.raises(OSError, match="Input/output error"):
        ingest.ingest_batch(_arrivals(*_three_mails()), [SUPPORT])

    assert _count(InboundMail) == 0 and _count(Ticket) == 0 and _count(OutboxItem) == 0
    monkeypatch.undo()
    results = ingest.ingest_batch(_arrivals(*_three_mails()), [SUPPORT])
    assert [r.outcome for r in results] == ["new_ticket"] * 3


def test_a_batch_seen_again_after_a_crash_before_the_server_move_changes_nothing(app):
    mails = _three_mails()
    first = ingest.ingest_batch(_arrivals(*mails), [SUPPORT])

    again = ingest.ingest_batch(_arrivals(*mails), [SUPPORT])

    assert [r.outcome for r in again] == ["duplicate"] * 3
    assert [r.inbound_id for r in again] == [r.inbound_id for r in first]
    assert [r.ticket_number for r in again] == [r.ticket_number for r in first]
    assert _count(Ticket) == 3 and _count(InboundMail) == 3
    assert _count(OutboxItem, OutboxItem.kind == ACKNOWLEDGE) == 3


def test_the_same_mail_twice_in_one_batch_makes_one_ticket(app):
    results = ingest.ingest_batch(_arrivals(_mail(), _mail()), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket", "duplicate"]
    assert results[1].ticket_number == results[0].ticket_number
    assert _count(Ticket) == 1 and _count(InboundMail) == 1


def test_a_bulk_mail_in_a_batch_withdraws_only_its_own_acknowledgement(app):
    person = _mail(subject="Printer jams", message_id="<p@alice.example.com>")
    bulk = _mail(
        subject="Newsletter", message_id="<n@news.example.com>", sender="news@example.com",
        Precedence="bulk",
    )  # fmt: skip

    results = ingest.ingest_batch(_arrivals(person, bulk, person), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket", "new_ticket", "duplicate"]
    payloads = db.session.execute(
        select(OutboxItem.payload).where(OutboxItem.kind == ACKNOWLEDGE)
    ).scalars()
    acknowledged = [json.loads(payload)["ticket_id"] for payload in payloads]
    person_ticket = db.session.execute(
        select(Ticket.id).where(Ticket.number == results[0].ticket_number)
    ).scalar_one()
    assert acknowledged == [person_ticket]


def test_attachments_of_a_batch_are_stored_and_readable_after_the_commit(app):
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "alice@example.com", SUPPORT, "Screenshot"
    mail["Message-ID"] = "<s@alice.example.com>"
    mail.set_content("See the picture.")
    mail.add_attachment(PIXEL, maintype="image", subtype="png", filename="screen.png")

    results = ingest.ingest_batch(_arrivals(bytes(mail), _mail()), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket", "new_ticket"]
    attachment = db.session.execute(select(Attachment)).scalar_one()
    assert (attachment.filename, storage.read_blob(attachment.sha256)) == ("screen.png", PIXEL)


def test_a_batch_of_files_is_synced_with_one_call_and_a_single_file_with_fsync(app, monkeypatch):
    synced, fsynced = [], []
    real_syncfs, real_fsync = storage._SYNCFS, storage.os.fsync
    monkeypatch.setattr(storage, "_SYNCFS", lambda fd: synced.append(fd) or real_syncfs(fd))
    monkeypatch.setattr(storage.os, "fsync", lambda fd: fsynced.append(fd) or real_fsync(fd))

    with storage.synced_together():
        digests = [storage.save_blob(f"file {n}".encode()) for n in range(10)]
    assert (len(synced), len(fsynced)) == (1, 0)  # the whole batch, one file system
    with storage.synced_together():
        one = storage.save_blob(b"one file")
    assert (len(synced), len(fsynced)) == (1, 2)  # the file and its folder
    storage.save_blob(b"outside a batch")
    assert len(fsynced) == 3  # as before: synced before save_blob returns

    assert [storage.read_blob(d) for d in digests] == [f"file {n}".encode() for n in range(10)]
    assert storage.read_blob(one) == b"one file"


def test_a_blocked_sender_in_a_batch_is_held_and_the_others_become_tickets(app):
    blocklist.block("@evil.example")
    db.session.commit()
    mails = _three_mails()
    mails[1] = _mail(subject="Cheap pills", message_id="<x@evil>", sender="Mallory@Evil.example")

    results = ingest.ingest_batch(_arrivals(*mails), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket", "blocked", "new_ticket"]
    assert _count(Ticket) == 2


def test_a_batch_writes_the_side_effects_of_its_mails_together_and_only_of_those_kept(
    app, monkeypatch
):
    real_open_ticket = routing.open_ticket

    def fails_for_bob(actor, **kwargs):
        ticket = real_open_ticket(actor, **kwargs)  # its acknowledgement is queued, then
        if kwargs["requester"].primary_email == "bob@example.com":
            raise RuntimeError("ticket service is down")
        return ticket

    monkeypatch.setattr(routing, "open_ticket", fails_for_bob)  # fault injection
    handed_off = []
    monkeypatch.setattr(dispatch, "dispatch", lambda app, ids: handed_off.extend(ids))
    inserts = []

    def count_outbox_inserts(_conn, _cursor, statement, *_rest):
        if statement.startswith("INSERT INTO outbox"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", count_outbox_inserts)
    try:
        results = ingest.ingest_batch(_arrivals(*_three_mails()), [SUPPORT])
    finally:
        event.remove(db.engine, "before_cursor_execute", count_outbox_inserts)

    assert [r.outcome for r in results] == ["new_ticket", "quarantined", "new_ticket"]
    assert len(inserts) == 1  # one statement for the whole batch
    rows = db.session.execute(select(OutboxItem.id, OutboxItem.payload)).all()
    kept = {
        db.session.execute(select(Ticket.id).where(Ticket.number == r.ticket_number)).scalar_one()
        for r in results
        if r.ticket_number
    }
    assert {json.loads(payload)["ticket_id"] for _id, payload in rows} == kept
    assert sorted(handed_off) == sorted(item_id for item_id, _payload in rows)
    assert _count(OutboxItem, OutboxItem.kind == ACKNOWLEDGE) == 2


def test_in_process_runners_wait_for_a_running_batch_and_then_run_promptly(app, monkeypatch):
    ran = threading.Event()
    monkeypatch.setitem(HANDLERS, "test.ran", lambda payload: ran.set() or "ran")

    monkeypatch.setitem(app.config, "OUTBOX_DISPATCH", "thread")
    outbox.enqueue("test.ran", {})
    with dispatch.foreground():
        db.session.commit()  # hands the item to an in-process runner
        assert not ran.wait(0.5)  # the batch goes first
    finished = time.monotonic()
    assert ran.wait(10)
    assert time.monotonic() - finished < 5
    dispatch.drain()


def test_new_senders_of_a_batch_join_the_organization_of_their_domain_with_their_tickets(app):
    acme = create_organization("Acme", ["acme.example"])
    db.session.commit()
    mails = [
        _mail(message_id="<a@acme>", sender="Ann <ann@acme.example>", Cc="dave@ACME.example"),
        _mail(message_id="<b@acme>", sender="Bob <Bob@Acme.Example>"),
        _mail(message_id="<c@other>", sender="Carol <carol@other.example>"),
    ]

    results = ingest.ingest_batch(_arrivals(*mails), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket"] * 3
    db.session.rollback()
    organizations = {
        address: (contact.organization_id, contact.organization and contact.organization.name)
        for address in ("ann@acme.example", "bob@acme.example", "dave@acme.example")
        for contact in [find_contact_by_email(address)]
    }
    assert set(organizations.values()) == {(acme.id, "Acme")}
    assert find_contact_by_email("carol@other.example").organization_id is None
    tickets = [_ticket_of(r) for r in results]
    assert [t.organization_id for t in tickets] == [acme.id, acme.id, None]
    assert [p.contact.primary_email for p in tickets[0].participants] == ["dave@acme.example"]


def test_a_sender_whose_first_mail_failed_gets_a_ticket_from_the_next_in_the_same_batch(
    app, monkeypatch
):
    real_open_ticket, calls = routing.open_ticket, []

    def fails_once(actor, **kwargs):
        calls.append(kwargs["requester"])
        if len(calls) == 1:
            raise RuntimeError("ticket service is down")
        return real_open_ticket(actor, **kwargs)

    monkeypatch.setattr(routing, "open_ticket", fails_once)  # fault injection
    first = _mail(message_id="<1@new.example>", sender="Nina <nina@new.example>")
    second = _mail(message_id="<2@new.example>", sender="Nina <nina@new.example>")

    results = ingest.ingest_batch(_arrivals(first, second), [SUPPORT])

    assert [r.outcome for r in results] == ["quarantined", "new_ticket"]
    ticket = _ticket_of(results[1])
    assert ticket.requester.primary_email == "nina@new.example"
    assert _count(Contact) == 1


def test_a_reply_from_a_new_participant_is_marked_so_and_audited_as_theirs(app):
    original = _mail(message_id="<q@alice.example.com>")
    [opened] = ingest.ingest_batch(_arrivals(original), [SUPPORT])
    reply = _mail(
        "Same here.", message_id="<r@zoe.example>", sender="Zoe <zoe@example.com>",
        subject=f"Re: Printer jams [#{opened.ticket_number}]",
        In_Reply_To="<q@alice.example.com>", References="<q@alice.example.com>",
    )  # fmt: skip

    [result] = ingest.ingest_batch(_arrivals(reply, uidvalidity=8), [SUPPORT])

    assert result.outcome == "reply" and result.detail.endswith("a new participant")
    ticket = _ticket_of(result)
    zoe = find_contact_by_email("zoe@example.com")
    assert [p.contact_id for p in ticket.participants] == [zoe.id]
    assert [m.from_new_participant for m in ticket.messages] == [False, True]
    joined = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == "participant_added")
    ).scalar_one()
    assert (joined.ticket_id, joined.actor_contact_id, joined.new_value) == (
        ticket.id, zoe.id, "zoe@example.com",
    )  # fmt: skip


def test_mails_of_one_new_sender_in_a_batch_share_one_new_contact(app):
    known = _mail(message_id="<0@alice.example.com>")
    ingest.ingest_batch(_arrivals(known), [SUPPORT])
    mails = [
        _mail(subject=f"Question {n}", message_id=f"<{n}@new.example>", sender=sender)
        for n, sender in enumerate(
            ("Nina <nina@new.example>", "Alice <alice@example.com>", "nina@new.example")
        )
    ]

    results = ingest.ingest_batch(_arrivals(*mails, uidvalidity=8), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket"] * 3
    requesters = [_ticket_of(r).requester for r in results]
    assert [c.primary_email for c in requesters] == [
        "nina@new.example", "alice@example.com", "nina@new.example",
    ]  # fmt: skip
    assert requesters[0].id == requesters[2].id
    assert _count(Contact) == 2  # alice from before, and nina once


def _a_mail_and_its_answer() -> list[bytes]:
    first = _mail(message_id="<first@alice.example.com>", subject="VPN is down")
    reply = _mail(
        "Still down.", message_id="<second@alice.example.com>", subject="Any news?",
        In_Reply_To="<first@alice.example.com>", References="<first@alice.example.com>",
    )  # fmt: skip
    return [first, reply]


def test_a_reply_threads_onto_the_ticket_an_earlier_mail_of_its_batch_opened(app):
    results = ingest.ingest_batch(_arrivals(*_a_mail_and_its_answer()), [SUPPORT])

    assert [r.outcome for r in results] == ["new_ticket", "reply"]
    assert results[0].ticket_number == results[1].ticket_number
    assert [m.body_text for m in _ticket_of(results[0]).messages][-1] == "Still down."


def test_a_reply_to_a_mail_that_failed_in_its_batch_opens_a_ticket_of_its_own(app, monkeypatch):
    real_open_ticket = routing.open_ticket

    def fails_for_the_first(actor, **kwargs):
        if kwargs["subject"] == "VPN is down":
            raise RuntimeError("ticket service is down")
        return real_open_ticket(actor, **kwargs)

    monkeypatch.setattr(routing, "open_ticket", fails_for_the_first)  # fault injection
    results = ingest.ingest_batch(_arrivals(*_a_mail_and_its_answer()), [SUPPORT])

    assert [r.outcome for r in results] == ["quarantined", "new_ticket"]
    assert _ticket_of(results[1]).subject == "Any news?"


def _ticket_of(result) -> Ticket:
    return db.session.execute(
        select(Ticket).where(Ticket.number == result.ticket_number)
    ).scalar_one()
