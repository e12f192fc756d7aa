"""Two agents on one ticket: presence, replies that cross, and forms that went stale."""

from datetime import timedelta

import pytest

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.tickets import presence, services
from helpdesk.tickets.console_models import Presence
from helpdesk.tickets.models import MessageKind, Priority, Ticket
from helpdesk.tickets.states import Status
from tests.agent.conftest import page
from tests.conftest import login


@pytest.fixture
def sam(make, desk):
    sam = make.agent(email="sam@desk.test", name="Sam Support", teams=[desk.support])
    db.session.commit()
    return sam


@pytest.fixture
def sam_client(app, sam):
    client = app.test_client()
    login(client, sam.email)
    return client


@pytest.fixture
def ticket(make, desk):
    ticket = make.ticket(desk.carol, subject="Shared ticket", team=desk.support)
    db.session.commit()
    return ticket


def poll(client, ticket, state="viewing"):
    return client.post(f"/agent/tickets/{ticket.number}/presence", data={"state": state}).get_json()


def test_presence_shows_who_else_is_viewing_and_who_is_writing(alice_client, sam_client, ticket):
    assert poll(alice_client, ticket)["others"] == []

    poll(sam_client, ticket, "composing")

    assert poll(alice_client, ticket)["others"] == [
        {"name": "Sam Support", "state": "composing", "text": "Sam Support is writing a reply"}
    ]
    assert poll(sam_client, ticket)["others"] == [
        {"name": "Alice Agent", "state": "viewing", "text": "Alice Agent is viewing this ticket"}
    ]


def test_opening_the_ticket_page_counts_as_viewing_it(alice_client, sam_client, ticket):
    sam_client.get(f"/agent/tickets/{ticket.number}")

    html = page(alice_client.get(f"/agent/tickets/{ticket.number}"))

    assert "Sam Support is viewing this ticket" in html


def test_presence_older_than_thirty_seconds_is_ignored(alice_client, sam_client, sam, ticket):
    poll(sam_client, ticket, "composing")
    entry = db.session.get(Presence, (ticket.id, sam.id))
    entry.seen_at -= presence.FRESH_FOR + timedelta(seconds=1)
    db.session.commit()

    assert poll(alice_client, ticket)["others"] == []


def test_leaving_the_page_ends_presence_at_once(alice_client, sam_client, ticket):
    poll(sam_client, ticket)
    poll(sam_client, ticket, "gone")

    assert poll(alice_client, ticket)["others"] == []


def test_an_unknown_presence_state_is_refused(alice_client, ticket):
    response = alice_client.post(
        f"/agent/tickets/{ticket.number}/presence", data={"state": "dancing"}
    )

    assert response.status_code == 400


def test_presence_answers_with_the_newest_message_so_the_page_can_warn(alice_client, desk, ticket):
    first = poll(alice_client, ticket)["last_message_id"]
    services.add_reply(ticket, Actor.for_contact(desk.carol.contact), body="More!", channel="email")
    db.session.commit()

    assert poll(alice_client, ticket)["last_message_id"] > first


def test_a_reply_that_would_cross_another_is_held_back_with_a_warning(
    alice_client, sam_client, ticket
):
    seen = ticket.messages[-1].id
    sam_client.post(
        f"/agent/tickets/{ticket.number}/reply", data={"body": "Sam's answer.", "last_seen": seen}
    )

    held = alice_client.post(
        f"/agent/tickets/{ticket.number}/reply", data={"body": "Alice's answer.", "last_seen": seen}
    )

    assert held.status_code == 409
    html = page(held)
    assert "Someone else replied since you opened this ticket." in html
    assert "Sam Support" in html and "Sam&#39;s answer." in html
    assert "Alice&#39;s answer." in html  # the draft is kept
    assert "send mine anyway" in html
    replies = [m.body_text for m in db.session.get(Ticket, ticket.id).messages]
    assert "Alice's answer." not in replies

    sent = alice_client.post(
        f"/agent/tickets/{ticket.number}/reply",
        data={"body": "Alice's answer.", "last_seen": seen, "confirm": "y"},
    )

    assert sent.status_code == 302
    db.session.expire_all()
    bodies = [m.body_text for m in db.session.get(Ticket, ticket.id).messages]
    assert bodies[-2:] == ["Sam's answer.", "Alice's answer."]


def test_a_customer_reply_that_arrived_meanwhile_also_warns(alice_client, desk, ticket):
    seen = ticket.messages[-1].id
    services.add_reply(
        ticket, Actor.for_contact(desk.carol.contact), body="Never mind!", channel="email"
    )
    db.session.commit()

    held = alice_client.post(
        f"/agent/tickets/{ticket.number}/reply", data={"body": "Here you go.", "last_seen": seen}
    )

    assert held.status_code == 409 and "Never mind!" in page(held)


def test_notes_and_my_own_replies_do_not_count_as_crossing(alice_client, sam, ticket, desk):
    seen = ticket.messages[-1].id
    services.add_note(ticket, Actor.for_user(sam), body="FYI")
    services.add_reply(ticket, Actor.for_user(desk.alice), body="First.", channel="agent")
    db.session.commit()

    sent = alice_client.post(
        f"/agent/tickets/{ticket.number}/reply", data={"body": "Second.", "last_seen": seen}
    )

    assert sent.status_code == 302


def test_a_stale_fields_form_is_explained_and_overwrites_nothing(alice_client, sam_client, ticket):
    loaded = ticket.version
    sam_client.post(
        f"/agent/tickets/{ticket.number}/fields",
        data={"version": loaded, "priority": "urgent", "status": "new"},
    )

    stale = alice_client.post(
        f"/agent/tickets/{ticket.number}/fields",
        data={"version": loaded, "priority": "low", "status": "pending"},
    )

    assert stale.status_code == 409
    assert "changed while you had it open" in page(stale)
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.priority == Priority.URGENT and ticket.status == Status.NEW
    # The page it shows is the ticket as it is now, ready for another try.
    assert '<option selected value="urgent">' in page(stale)


def test_a_stale_merge_is_refused(alice_client, sam_client, make, desk, ticket):
    target = make.ticket(desk.carol, subject="Target", team=desk.support)
    db.session.commit()
    loaded = ticket.version
    sam_client.post(f"/agent/tickets/{ticket.number}/note", data={"body": "Wait, not a dup."})

    response = alice_client.post(
        f"/agent/tickets/{ticket.number}/merge",
        data={"version": loaded, "target": str(target.number)},
    )

    assert response.status_code == 409
    assert db.session.get(Ticket, ticket.id).merged_into_id is None
    notes = [m for m in db.session.get(Ticket, ticket.id).messages if m.kind == MessageKind.NOTE]
    assert len(notes) == 1
