"""Moving a misthreaded message to the ticket it belongs to: the domain verb and the console."""

import pytest
from sqlalchemy import select

from helpdesk import storage
from helpdesk.accounts.actor import Actor
from helpdesk.contacts.services import find_or_create_contact
from helpdesk.errors import InvalidTransition, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets.models import Attachment, AuditEvent, Channel, Message, MessageKind, Ticket
from helpdesk.tickets.moving import move_message
from helpdesk.tickets.services import (
    MailHeaders,
    add_mail_participant,
    add_reply,
    change_status,
    merge,
)
from helpdesk.validation import Upload
from tests.agent.conftest import as_actor, page


@pytest.fixture
def misthreaded(make, desk):
    """Carol's ticket got a mail from Eve (with a file) that belongs on Dan's ticket."""
    source = make.ticket(requester=desk.carol, subject="Printer jams")
    target = make.ticket(subject="VPN is down")
    eve = find_or_create_contact("eve@example.com", "Eve Example")
    add_mail_participant(source, eve)
    message = add_reply(
        source,
        Actor.for_contact(eve),
        body="The VPN drops every ten minutes.",
        channel=Channel.EMAIL,
        uploads=[Upload("vpn.log", "text/plain", b"timeout\n")],
        mail=MailHeaders(message_id="<eve-1@example.com>"),
    )
    db.session.commit()
    return source, target, message


def _audit(ticket: Ticket) -> list[tuple[str, str]]:
    found = select(AuditEvent).where(AuditEvent.ticket_id == ticket.id).order_by(AuditEvent.id)
    return [(a.action, a.new_value) for a in db.session.execute(found).scalars()]


def _events(ticket: Ticket) -> list[str]:
    return [m.body_text for m in ticket.messages if m.kind == MessageKind.EVENT]


def test_move_message_moves_it_with_its_files_records_both_tickets_and_adds_its_sender(
    desk, misthreaded
):
    source, target, message = misthreaded

    joined = move_message(as_actor(desk.alice), message, target)
    db.session.commit()

    assert joined is True
    assert message.ticket_id == target.id
    assert message not in source.messages
    (attachment,) = db.session.execute(
        select(Attachment).where(Attachment.message_id == message.id)
    ).scalars()
    assert attachment.ticket_id == target.id
    assert storage.read_blob(attachment.sha256) == b"timeout\n"
    assert "eve@example.com" in [p.contact.primary_email for p in target.participants]
    assert _events(source) == [f"A message from Eve Example was moved to #{target.number}."]
    assert _events(target) == [f"A message from Eve Example was moved here from #{source.number}."]
    assert ("message_moved_to", f"message {message.id} -> #{target.number}") in _audit(source)
    assert ("message_moved_from", f"message {message.id} <- #{source.number}") in _audit(target)
    assert ("participant_added", "eve@example.com") in _audit(target)


def test_move_message_refuses_the_same_ticket_a_closed_or_merged_target_and_non_agents(
    make, desk, misthreaded
):
    source, target, message = misthreaded
    alice = as_actor(desk.alice)

    with pytest.raises(ValidationError, match="is on #\\d+ already"):
        move_message(alice, message, source)
    with pytest.raises(PermissionDenied, match="Only agents"):
        move_message(as_actor(desk.carol), message, target)

    closed = make.ticket(subject="Old")
    change_status(closed, alice, "closed")
    with pytest.raises(InvalidTransition, match="is closed"):
        move_message(alice, message, closed)

    merged, into = make.ticket(subject="Dup"), make.ticket(subject="Main")
    merge(merged, into, alice)
    with pytest.raises(ValidationError, match=f"was merged into #{into.number}; move it there"):
        move_message(alice, message, merged)

    db.session.rollback()
    assert db.session.get(Message, message.id).ticket_id == source.id


def test_move_message_refuses_a_tickets_only_message_and_history_lines(make, desk):
    alice = as_actor(desk.alice)
    lonely, target = make.ticket(subject="Alone"), make.ticket(subject="Other")
    with pytest.raises(ValidationError, match="only message on #\\d+; merge the ticket"):
        move_message(alice, lonely.messages[0], target)
    line = Message(
        ticket=lonely, kind=MessageKind.EVENT, channel=Channel.AGENT, body_text="Split off."
    )
    db.session.add(line)
    db.session.flush()
    with pytest.raises(ValidationError, match="History lines cannot be moved"):
        move_message(alice, line, target)


def test_an_agent_moves_a_message_from_the_ticket_page_by_number(alice_client, desk, misthreaded):
    source, target, message = misthreaded
    url = f"/agent/tickets/{source.number}/messages/{message.id}/move"

    html = page(alice_client.get(f"/agent/tickets/{source.number}"))
    assert f'action="{url}"' in html

    answer = alice_client.post(url, data={"target": f"#{target.number}"}, follow_redirects=True)

    assert f"The message was moved to #{target.number}" in page(answer)
    assert "its sender now follows that ticket" in page(answer)
    assert db.session.get(Message, message.id).ticket_id == target.id

    refused = alice_client.post(
        f"/agent/tickets/{target.number}/messages/{message.id}/move",
        data={"target": str(target.number)},
        follow_redirects=True,
    )
    assert f"The message is on #{target.number} already." in page(refused)
    bad = alice_client.post(
        f"/agent/tickets/{target.number}/messages/{message.id}/move",
        data={"target": "next week"},
        follow_redirects=True,
    )
    assert "Give the number of the ticket" in page(bad)
