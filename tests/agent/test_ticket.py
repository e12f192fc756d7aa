"""One ticket in the console: its history, replies, notes and the moves an agent makes."""

import io
import json
import re

import pytest
from sqlalchemy import select

from helpdesk import events
from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem
from helpdesk.tickets import blocklist, canned, services
from helpdesk.tickets.console_models import Mention
from helpdesk.tickets.models import AuditEvent, MessageKind, Priority, Ticket
from helpdesk.tickets.states import Status
from tests.agent.conftest import as_actor, page


@pytest.fixture
def ticket(make, desk):
    ticket = make.ticket(desk.carol, subject="Printer jams", body="Page 2 jams.", team=desk.support)
    db.session.commit()
    return ticket


def url(ticket, action=""):
    return f"/agent/tickets/{ticket.number}" + (f"/{action}" if action else "")


def reload(ticket) -> Ticket:
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id)


def test_the_history_shows_replies_notes_and_changes_in_order(alice_client, desk, ticket):
    alice = as_actor(desk.alice)
    services.assign(ticket, alice, assignee=desk.alice)
    services.add_note(ticket, alice, body="Known firmware bug.")
    services.add_reply(ticket, alice, body="Please update the firmware.", channel="agent")
    services.change_status(ticket, alice, Status.PENDING)
    db.session.commit()

    html = page(alice_client.get(url(ticket)))

    order = [
        "Page 2 jams.",
        "changed the assignee",
        "changed the status",  # new -> open, when it was assigned
        "Known firmware bug.",
        "Please update the firmware.",
        "from <em>open</em> to <em>pending</em>",
    ]
    positions = [html.index(text) for text in order]
    assert positions == sorted(positions)
    note = html[html.rindex("<article", 0, html.index("Known firmware bug.")) :]
    assert note.startswith('<article class="msg msg-note') and "Internal note" in note[:600]


def test_mail_details_are_there_on_demand(make, desk, alice_client):
    ticket = make.ticket(
        desk.carol,
        subject="By mail",
        team=desk.support,
        channel="email",
        mail=services.MailHeaders(
            message_id="<abc@mail.example>", in_reply_to="<x@y>", references="<x@y> <z@y>"
        ),
    )
    db.session.commit()

    html = page(alice_client.get(url(ticket)))

    details = html[html.index('<details class="mail-details">') :]
    assert "&lt;abc@mail.example&gt;" in details and "&lt;z@y&gt;" in details[:2000]


def test_an_agent_replies_with_an_attachment_and_sets_pending(alice_client, desk, ticket):
    response = alice_client.post(
        url(ticket, "reply"),
        data={
            "body": "Try **this** driver.",
            "last_seen": ticket.messages[-1].id,
            "status_after": "pending",
            "attachments": (io.BytesIO(b"driver bytes"), "driver.zip"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    ticket = reload(ticket)
    reply = ticket.messages[-1]
    assert reply.kind == MessageKind.REPLY and reply.author_user_id == desk.alice.id
    assert "<strong>this</strong>" in reply.body_html
    assert [a.filename for a in reply.attachments] == ["driver.zip"]
    assert ticket.status == Status.PENDING
    html = page(alice_client.get(url(ticket)))
    assert "Reply sent." in html and "driver.zip" in html


def test_an_empty_reply_is_refused_and_nothing_is_sent(alice_client, ticket):
    response = alice_client.post(url(ticket, "reply"), data={"body": "  ", "last_seen": 0})

    assert response.status_code == 400
    assert "Write the reply first." in page(response)
    assert len(reload(ticket).messages) == 1


def test_a_canned_response_is_filled_in_for_this_ticket(alice_client, desk, ticket):
    response = canned.create_canned_response(
        as_actor(desk.admin),
        title="Thanks",
        body="Hi {{customer_name}}, about #{{ ticket_number }}: {{agent_name}} is on it.",
    )
    db.session.commit()
    expected = f"Hi Carol Customer, about #{ticket.number}: Alice Agent is on it."

    as_json = alice_client.get(url(ticket, f"canned/{response.id}")).get_json()
    without_js = alice_client.post(
        url(ticket, "reply"),
        data={"body": "", "canned": str(response.id), "insert_canned": "1", "last_seen": 0},
    )

    assert as_json["text"] == expected
    assert without_js.status_code == 200
    assert expected in page(without_js)
    assert len(reload(ticket).messages) == 1  # inserted, not sent


def test_personal_canned_responses_are_their_owners_only(alice_client, desk, ticket):
    mine = canned.create_canned_response(as_actor(desk.bob), title="Bob's", body="x", personal=True)
    db.session.commit()

    assert alice_client.get(url(ticket, f"canned/{mine.id}")).status_code == 404


def test_a_note_with_a_mention_is_stored_and_announced(
    alice_client, make, desk, ticket, monkeypatch
):
    sam = make.agent(email="sam@desk.test", name="Sam Support", teams=[desk.support])
    db.session.commit()
    monkeypatch.setitem(events.SUBSCRIBERS, "note.mentioned", ["test.mentioned"])

    response = alice_client.post(
        url(ticket, "note"), data={"body": "@sam can you check? @bob too, @nobody"}
    )

    assert response.status_code == 302
    note = reload(ticket).messages[-1]
    assert note.kind == MessageKind.NOTE
    mentioned = db.session.scalars(select(Mention.user_id).where(Mention.message_id == note.id))
    assert list(mentioned) == [sam.id]
    items = db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "test.mentioned"))
    payloads = [json.loads(item.payload) for item in items]
    assert payloads == [
        {
            "event": "note.mentioned",
            "message_id": note.id,
            "ticket_id": ticket.id,
            "user_id": sam.id,
        }
    ]
    html = page(alice_client.get(url(ticket)))
    assert "Note added; Sam Support will be told." in html
    assert "Not told (they cannot see this ticket): Bob Billing." in html
    assert "@Sam Support" in html


def test_the_fields_form_changes_status_priority_assignee_and_team(alice_client, desk, ticket):
    response = alice_client.post(
        url(ticket, "fields"),
        data={
            "version": ticket.version,
            "status": "pending",
            "priority": "urgent",
            "assignee": str(desk.alice.id),
            "team": str(desk.billing.id),
        },
    )

    assert response.status_code == 302
    ticket = reload(ticket)
    assert (ticket.status, ticket.priority) == (Status.PENDING, Priority.URGENT)
    assert ticket.assignee_id == desk.alice.id and ticket.team_id == desk.billing.id


def test_assign_to_me_takes_the_ticket(alice_client, desk, ticket):
    alice_client.post(url(ticket, "assign-to-me"), data={"version": ticket.version})

    ticket = reload(ticket)
    assert ticket.assignee_id == desk.alice.id and ticket.status == Status.OPEN


def test_an_invalid_status_change_is_explained(alice_client, ticket):
    response = alice_client.post(
        url(ticket, "fields"), data={"version": ticket.version, "status": "bogus"}
    )

    assert response.status_code == 400
    assert "“bogus” is not a status." in page(response)


def test_tags_are_added_and_removed(alice_client, ticket):
    alice_client.post(url(ticket, "tags"), data={"add": "VIP, printer"})
    assert [t.name for t in reload(ticket).tags] == ["printer", "vip"]

    alice_client.post(url(ticket, "tags"), data={"remove": "vip"})
    assert [t.name for t in reload(ticket).tags] == ["printer"]

    bad = alice_client.post(url(ticket, "tags"), data={"add": "no spaces allowed!"})
    assert bad.status_code == 400


def test_a_participant_is_copied_in_and_removed(alice_client, ticket):
    alice_client.post(url(ticket, "participants"), data={"email": "Boss@Example.com"})
    [cc] = reload(ticket).participants
    assert cc.contact.primary_email == "boss@example.com"
    assert "boss@example.com" in page(alice_client.get(url(ticket)))

    alice_client.post(url(ticket, f"participants/{cc.contact_id}/remove"))
    assert reload(ticket).participants == []


def test_the_requester_cannot_also_be_copied_in(alice_client, ticket):
    response = alice_client.post(url(ticket, "participants"), data={"email": "carol@example.com"})

    assert response.status_code == 400
    assert "is the requester already" in page(response)


def test_merging_moves_the_conversation_and_later_mail_follows(alice_client, make, desk, ticket):
    other = make.ticket(desk.carol, subject="Printer again", body="Still jams.", team=desk.support)
    db.session.commit()

    response = alice_client.post(
        url(other, "merge"), data={"target": f"#{ticket.number}", "version": other.version}
    )

    assert response.headers["Location"].endswith(url(ticket))
    other, ticket = reload(other), db.session.get(Ticket, ticket.id)
    assert other.merged_into_id == ticket.id and other.status == Status.CLOSED
    assert "Still jams." in [m.body_text for m in ticket.messages]
    later = services.add_reply(
        other, Actor.for_contact(desk.carol.contact), body="Hello?", channel="email"
    )
    assert later.ticket_id == ticket.id


def test_a_message_is_split_into_a_new_ticket(alice_client, desk, ticket):
    extra = services.add_reply(
        ticket, Actor.for_contact(desk.carol.contact), body="Also, my VPN is down.", channel="email"
    )
    db.session.commit()

    response = alice_client.post(
        url(ticket, f"messages/{extra.id}/split"), data={"subject": "VPN down"}
    )

    new = db.session.scalar(select(Ticket).where(Ticket.subject == "VPN down"))
    assert response.headers["Location"].endswith(url(new))
    assert [m.body_text for m in new.messages if m.kind == MessageKind.REPLY] == [
        "Also, my VPN is down."
    ]
    assert new.requester_id == ticket.requester_id and new.team_id == desk.support.id
    assert "Also, my VPN" not in " ".join(m.body_text for m in reload(ticket).messages)


def test_the_only_message_cannot_be_split_off(alice_client, ticket):
    response = alice_client.post(url(ticket, f"messages/{ticket.messages[0].id}/split"))

    assert response.status_code == 400
    assert "only message" in page(response)


def test_marking_spam_closes_the_ticket_and_blocks_the_domain(alice_client, ticket):
    response = alice_client.post(url(ticket, "spam"), data={"block": "domain"})

    assert response.status_code == 302
    ticket = reload(ticket)
    assert ticket.status == Status.CLOSED and [t.name for t in ticket.tags] == ["spam"]
    assert blocklist.is_blocked("anyone@EXAMPLE.com")
    assert not blocklist.is_blocked("carol@example.org")
    assert "was closed as spam; mail from @example.com is blocked" in page(
        alice_client.get("/agent/")
    )


def test_marking_spam_can_block_just_the_address(alice_client, ticket):
    alice_client.post(url(ticket, "spam"), data={"block": "address"})

    assert blocklist.is_blocked("carol@example.com")
    assert not blocklist.is_blocked("dave@example.com")


def test_an_admin_deletes_a_ticket_and_its_history_but_the_audit_keeps_a_line(
    admin_client, make, desk, ticket
):
    follow = make.ticket(desk.carol, subject="Merged one", team=desk.support)
    services.merge(follow, ticket, as_actor(desk.admin))
    db.session.commit()
    ticket_id, number = ticket.id, ticket.number

    admin_client.post(url(ticket, "delete"))

    assert db.session.get(Ticket, ticket_id) is None
    assert db.session.get(Ticket, follow.id).merged_into_id is None
    deleted = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "ticket_deleted"))
    assert [e.old_value for e in deleted] == [f"#{number} Printer jams"]


def test_the_requester_panel_lists_their_other_tickets(alice_client, make, desk, ticket):
    older = make.ticket(desk.carol, subject="Earlier question", team=desk.support)
    make.ticket(desk.carol, subject="Billing secret", team=desk.billing)
    db.session.commit()

    html = page(alice_client.get(url(ticket)))
    panel = html[html.index('id="requester-title"') :]

    assert "carol@example.com" in panel and f"#{older.number} Earlier question" in panel
    assert "Billing secret" not in html


def test_a_new_ticket_for_a_new_caller_creates_the_contact(alice_client, desk):
    response = alice_client.post(
        "/agent/tickets/new",
        data={
            "email": "walk.in@example.net",
            "name": "Walter In",
            "subject": "Phone call: wifi",
            "body": "Called about the wifi.",
            "priority": "high",
            "team": str(desk.support.id),
        },
    )

    ticket = db.session.scalar(select(Ticket).where(Ticket.subject == "Phone call: wifi"))
    assert response.headers["Location"].endswith(url(ticket))
    assert ticket.requester.name == "Walter In" and ticket.channel.value == "agent"
    assert ticket.priority == Priority.HIGH and ticket.team_id == desk.support.id
    assert ticket.messages[0].author_contact_id == ticket.requester_id


def test_a_new_ticket_for_a_known_customer_uses_their_contact(alice_client, desk):
    form = page(alice_client.get(f"/agent/tickets/new?contact={desk.carol.contact.id}"))
    assert 'value="carol@example.com"' in form

    alice_client.post(
        "/agent/tickets/new",
        data={"email": "carol@example.com", "subject": "Walk-in", "body": "At the desk."},
    )

    ticket = db.session.scalar(select(Ticket).where(Ticket.subject == "Walk-in"))
    assert ticket.requester_id == desk.carol.contact.id


def test_a_new_ticket_form_explains_what_is_missing(alice_client):
    response = alice_client.post("/agent/tickets/new", data={"email": "x@example.com"})

    assert response.status_code == 400
    assert re.search(r"Subject: This field is required", page(response))


def test_the_client_panel_shows_the_requester_s_record_beside_the_ticket(alice_client, ticket):
    html = page(alice_client.get(url(ticket)))
    assert "Client record" in html
    assert "Edit Carol Customer" in html


def test_an_agent_revokes_the_customer_s_password_free_links(app, client, alice_client, ticket):
    from helpdesk.tickets.links import make_link_token

    token = make_link_token(ticket)
    assert client.get(f"/t/{token}").status_code == 200
    response = alice_client.post(url(ticket, "revoke-links"))
    assert response.status_code == 302
    assert "no longer works" in page(alice_client.get(url(ticket)))
    assert client.get(f"/t/{token}").status_code == 404
