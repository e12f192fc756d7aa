"""One request (/tickets/<number>): who may see it, what is shown, reply, solve, reopen."""

import io
import re
from datetime import timedelta

from sqlalchemy import select

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.tickets.models import Channel, Message, Ticket
from helpdesk.tickets.services import add_note, add_reply, assign, change_status
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow
from tests.portal.conftest import page


def _resolved(ticket, agent, days_ago=0):
    change_status(ticket, Actor.for_user(agent), Status.RESOLVED)
    ticket.resolved_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()


def test_another_customers_request_is_not_found(client, signed_in, make):
    theirs = make.ticket(subject="Private matter")
    signed_in()
    response = client.get(f"/tickets/{theirs.number}")
    assert response.status_code == 404
    assert "Private matter" not in page(response)


def test_a_guessed_number_answers_exactly_like_someone_elses(client, signed_in, make):
    theirs = make.ticket()
    signed_in()
    taken = client.get(f"/tickets/{theirs.number}")
    free = client.get(f"/tickets/{theirs.number + 500}")
    assert taken.status_code == free.status_code == 404
    # The sign-out form's CSRF token carries the time: two requests a second apart differ there.
    assert _without_csrf(page(taken)).replace(str(theirs.number), "N") == _without_csrf(
        page(free)
    ).replace(str(theirs.number + 500), "N")


def _without_csrf(html: str) -> str:
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]*"', r'\1"', html)


def test_actions_on_another_customers_request_are_not_found(client, signed_in, make):
    theirs = make.ticket()
    signed_in()
    for action in ("reply", "solve", "reopen"):
        response = client.post(f"/tickets/{theirs.number}/{action}", data={"body": "Hi"})
        assert response.status_code == 404, action
    db.session.refresh(theirs)
    assert theirs.status == Status.NEW and len(theirs.messages) == 1


def test_internal_notes_and_system_lines_are_never_shown(client, signed_in, make):
    customer = make.customer()
    agent = make.agent()
    ticket = make.ticket(requester=customer)
    add_note(ticket, Actor.for_user(agent), body="SECRET-NOTE customer is difficult")
    add_reply(ticket, Actor.for_user(agent), body="Public answer", channel=Channel.AGENT)
    signed_in(customer)
    html = page(client.get(f"/tickets/{ticket.number}"))
    assert "Public answer" in html
    assert "SECRET-NOTE" not in html


def test_the_page_shows_status_handler_and_a_timeline_of_changes(client, signed_in, make):
    customer = make.customer()
    agent = make.agent(name="Dana Agent")
    ticket = make.ticket(requester=customer, subject="Broken screen")
    assign(ticket, Actor.for_user(agent), assignee=agent)
    change_status(ticket, Actor.for_user(agent), Status.PENDING)
    signed_in(customer)
    html = page(client.get(f"/tickets/{ticket.number}"))
    assert "Dana Agent" in html and "Broken screen" in html
    timeline = html.split('id="timeline-title"')[1]
    assert timeline.index("Received") < timeline.index("In progress")
    assert timeline.index("In progress") < timeline.index("Waiting for your reply")


def test_a_reply_is_added_and_wakes_a_pending_request(client, signed_in, make):
    customer = make.customer()
    agent = make.agent()
    ticket = make.ticket(requester=customer)
    change_status(ticket, Actor.for_user(agent), Status.PENDING)
    signed_in(customer)
    response = client.post(
        f"/tickets/{ticket.number}/reply",
        data={"body": "Here is the *log*", "attachments": [(io.BytesIO(b"log"), "x.log")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == Status.OPEN
    last = ticket.messages[-1]
    assert last.body_text == "Here is the *log*" and "<em>log</em>" in last.body_html
    assert [a.filename for a in last.attachments] == ["x.log"]
    html = page(client.get(response.headers["Location"]))
    assert "Your reply was added." in html and "x.log" in html


def test_an_empty_reply_is_refused_and_nothing_is_added(client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    signed_in(customer)
    response = client.post(f"/tickets/{ticket.number}/reply", data={"body": "  "})
    assert response.status_code == 400
    assert "Please write a message." in page(response)
    assert len(db.session.execute(select(Message)).scalars().all()) == 1


def test_marking_as_solved_resolves_the_request(client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    signed_in(customer)
    assert "Mark as solved" in page(client.get(f"/tickets/{ticket.number}"))
    response = client.post(f"/tickets/{ticket.number}/solve")
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == Status.RESOLVED
    html = page(client.get(f"/tickets/{ticket.number}"))
    assert "marked as solved" in html and "Reopen" in html and "Mark as solved" not in html


def test_reopening_within_the_window_opens_the_request_again(client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    _resolved(ticket, make.agent(), days_ago=6)
    signed_in(customer)
    response = client.post(f"/tickets/{ticket.number}/reopen")
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == Status.OPEN
    assert "The request is open again." in page(client.get(f"/tickets/{ticket.number}"))


def test_after_the_window_there_is_no_reopen_and_reopening_is_refused(client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    _resolved(ticket, make.agent(), days_ago=8)
    signed_in(customer)
    html = page(client.get(f"/tickets/{ticket.number}"))
    assert f'action="/tickets/{ticket.number}/reopen"' not in html
    assert "Your reply will open a new request" in html
    response = client.post(f"/tickets/{ticket.number}/reopen")
    follow = page(client.get(response.headers["Location"]))
    assert "can no longer be reopened" in follow
    db.session.refresh(ticket)
    assert ticket.status == Status.RESOLVED


def test_a_reply_after_the_window_opens_a_linked_request_and_says_so(client, signed_in, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer, subject="Old problem")
    _resolved(ticket, make.agent(), days_ago=30)
    signed_in(customer)
    response = client.post(f"/tickets/{ticket.number}/reply", data={"body": "It is back"})
    new = db.session.execute(select(Ticket).where(Ticket.id != ticket.id)).scalar_one()
    assert new.follow_up_of_id == ticket.id
    assert response.headers["Location"] == f"/tickets/{new.number}"
    html = page(client.get(response.headers["Location"]))
    assert f"your message opened a new request, #{new.number}" in html
    assert f"This request continues #{ticket.number}" in html
    old = page(client.get(f"/tickets/{ticket.number}"))
    assert f'href="/tickets/{new.number}"' in old


def test_a_closed_request_can_still_be_read_but_not_solved(client, signed_in, make):
    customer = make.customer()
    agent = make.agent()
    ticket = make.ticket(requester=customer, subject="Finished")
    change_status(ticket, Actor.for_user(agent), Status.RESOLVED)
    change_status(ticket, Actor.for_user(agent), Status.CLOSED)
    signed_in(customer)
    html = page(client.get(f"/tickets/{ticket.number}"))
    assert "Finished" in html and "Closed" in html
    assert "Mark as solved" not in html
    client.post(f"/tickets/{ticket.number}/solve")
    db.session.refresh(ticket)
    assert ticket.status == Status.CLOSED


def test_a_merged_request_leads_to_the_one_it_was_merged_into(client, signed_in, make):
    from helpdesk.tickets.services import merge

    customer = make.customer()
    source = make.ticket(requester=customer, subject="Duplicate")
    target = make.ticket(requester=customer, subject="Original")
    merge(source, target, Actor.for_user(make.agent()))
    signed_in(customer)
    response = client.get(f"/tickets/{source.number}")
    assert response.status_code == 302 and response.location == f"/tickets/{target.number}"
    assert "Duplicate" not in page(client.get("/tickets"))
