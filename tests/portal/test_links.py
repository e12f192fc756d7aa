"""Signed ticket links (/t/<token>): one ticket without a password; expiry, tampering and
revocation all end in the same plain 404."""

import time

import pytest

from helpdesk.accounts.actor import Actor
from helpdesk.errors import NotFound, PermissionDenied
from helpdesk.extensions import db
from helpdesk.settings import set_setting
from helpdesk.tickets.links import make_link_token, open_link, revoke_links
from helpdesk.tickets.models import AuditEvent
from helpdesk.tickets.states import Status
from helpdesk.validation import Upload
from tests.portal.conftest import page

INVALID = "This link does not work"


def _link(ticket) -> str:
    token = make_link_token(ticket)
    db.session.commit()
    return f"/t/{token}"


def test_a_link_opens_its_ticket_without_signing_in(client, make):
    ticket = make.ticket(subject="Router on fire", body="Smoke everywhere")
    response = client.get(_link(ticket))
    assert response.status_code == 200
    html = page(response)
    assert f"#{ticket.number}" in html and "Router on fire" in html and "Smoke everywhere" in html
    assert "personal link" in html and "Keep it private" in html


def test_a_reply_through_the_link_is_written_as_the_requester(client, make):
    ticket = make.ticket()
    link = _link(ticket)
    response = client.post(f"{link}/reply", data={"body": "More details"})
    assert response.status_code == 302 and response.headers["Location"].startswith(link)
    db.session.refresh(ticket)
    last = ticket.messages[-1]
    assert last.body_text == "More details"
    assert last.author_contact_id == ticket.requester_id


def test_the_requester_can_solve_and_reopen_through_the_link(client, make):
    ticket = make.ticket()
    link = _link(ticket)
    client.post(f"{link}/solve")
    db.session.refresh(ticket)
    assert ticket.status == Status.RESOLVED
    client.post(f"{link}/reopen")
    db.session.refresh(ticket)
    assert ticket.status == Status.OPEN


def test_the_link_serves_the_tickets_own_files_only(client, make):
    ticket = make.ticket(uploads=[Upload("mine.txt", "text/plain", b"MINE")])
    other = make.ticket(uploads=[Upload("theirs.txt", "text/plain", b"THEIRS")])
    [mine] = ticket.messages[0].attachments
    [theirs] = other.messages[0].attachments
    link = _link(ticket)
    assert client.get(f"{link}/attachments/{mine.id}/mine.txt").data == b"MINE"
    response = client.get(f"{link}/attachments/{theirs.id}/theirs.txt")
    assert response.status_code == 404 and b"THEIRS" not in response.data


def test_a_tampered_link_shows_the_invalid_link_page(client, make):
    ticket = make.ticket(subject="Confidential")
    link = _link(ticket)
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    response = client.get(tampered)
    assert response.status_code == 404
    assert INVALID in page(response) and "Confidential" not in page(response)


def test_a_link_cannot_be_rewritten_to_another_ticket(client, make):
    mine = make.ticket()
    other = make.ticket(subject="Other customer's")
    payload, _, signature = make_link_token(mine).partition(".")
    forged = make_link_token(other).partition(".")[0] + "." + signature
    response = client.get(f"/t/{forged}")
    assert response.status_code == 404 and "Other customer" not in page(response)
    assert client.post(f"/t/{forged}/reply", data={"body": "x"}).status_code == 404


def test_an_expired_link_shows_the_invalid_link_page(client, make, monkeypatch):
    set_setting("link_days", 30)
    ticket = make.ticket(subject="Old news")
    long_ago = time.time() - 31 * 86400
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: long_ago)
        token = make_link_token(ticket)
    db.session.commit()
    response = client.get(f"/t/{token}")
    assert response.status_code == 404
    assert INVALID in page(response) and "Old news" not in page(response)


def test_a_link_just_inside_its_lifetime_works(client, make, monkeypatch):
    set_setting("link_days", 2)
    ticket = make.ticket()
    day_ago = time.time() - 86400
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: day_ago)
        token = make_link_token(ticket)
    db.session.commit()
    assert client.get(f"/t/{token}").status_code == 200


def test_revoking_kills_every_earlier_link_but_not_new_ones(client, make):
    ticket = make.ticket()
    old = _link(ticket)
    revoke_links(ticket, Actor.for_user(make.agent()))
    db.session.commit()
    assert client.get(old).status_code == 404
    assert client.post(f"{old}/reply", data={"body": "late"}).status_code == 404
    assert client.get(_link(ticket)).status_code == 200
    audit = db.session.query(AuditEvent).filter_by(action="links_revoked").one()
    assert audit.ticket_id == ticket.id


def test_only_agents_revoke_links(make):
    customer = make.customer()
    ticket = make.ticket(requester=customer)
    with pytest.raises(PermissionDenied):
        revoke_links(ticket, Actor.for_user(customer))
    with pytest.raises(NotFound):
        revoke_links(ticket, Actor.for_user(make.customer()))


def test_open_link_acts_as_the_requester(make):
    ticket = make.ticket()
    access = open_link(make_link_token(ticket))
    assert access.ticket.id == ticket.id
    assert access.actor.contact.id == ticket.requester_id and not access.actor.is_staff


def test_internal_notes_stay_hidden_behind_a_link(client, make):
    ticket = make.ticket()
    from helpdesk.tickets.services import add_note

    add_note(ticket, Actor.for_user(make.agent()), body="NOTE-FOR-AGENTS-ONLY")
    assert "NOTE-FOR-AGENTS-ONLY" not in page(client.get(_link(ticket)))
