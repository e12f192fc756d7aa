"""CRM sync end to end: real database, real outbox, a fake HubSpot on a real HTTP server."""

import time

import pytest
from flask import render_template_string
from sqlalchemy import func, select, update

from helpdesk.accounts.actor import Actor
from helpdesk.crm.builtin import BuiltinAdapter
from helpdesk.crm.connections import ConnectionStatus, CrmConnection, CrmKind
from helpdesk.crm.links import CrmLink
from helpdesk.crm.notes import CrmNote
from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem, OutboxStatus
from helpdesk.outbox.runner import run_due
from helpdesk.tickets.services import change_status
from helpdesk.timeutil import utcnow
from tests.crm.conftest import SHORT_READ_TIMEOUT
from tests.crm.fakes import FakeHubSpot

TOKEN = "pat-test-token"


@pytest.fixture
def hubspot(crm_server, release):
    fake = FakeHubSpot(crm_server, TOKEN)
    fake.release = release
    fake.add_company("9001", "Acme GmbH", "acme.test")
    fake.add_contact("151", "anna@acme.test", "Anna Petrova", company_id="9001")
    return fake


@pytest.fixture
def connection(app, crm_server) -> CrmConnection:
    conn = CrmConnection(
        name="hubspot",
        kind=CrmKind.HUBSPOT,
        base_url=crm_server.url_for("").rstrip("/"),
        web_url="https://app.hubspot.com/contacts/4711",
    )
    conn.secret = TOKEN
    db.session.add(conn)
    db.session.commit()
    return conn


def drain(limit: int = 10) -> None:
    """Run due outbox items until none is left (new ones are due at once)."""
    for _ in range(limit):
        if run_due() == 0:
            return
    raise AssertionError("the outbox kept producing work")


def make_retries_due() -> None:
    db.session.execute(
        update(OutboxItem)
        .where(OutboxItem.status == OutboxStatus.PENDING)
        .values(run_after=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def link_of(contact) -> CrmLink:
    return db.session.execute(select(CrmLink).where(CrmLink.contact_id == contact.id)).scalar_one()


def open_for(make, email="anna@acme.test", **kw):
    customer = make.customer(email=email, name=kw.pop("name", "Anna"))
    ticket = make.ticket(requester=customer, **kw)
    db.session.commit()
    return customer, ticket


def test_a_new_ticket_links_the_requester_and_tells_the_crm(make, connection, hubspot):
    customer, ticket = open_for(make, subject="VPN drops every hour")
    assert hubspot.requests == []  # nothing was asked while the ticket was created
    drain()
    link = link_of(customer.contact)
    assert (link.external_id, link.match_rule, link.confidence) == ("151", "email", 1.0)
    assert link.url == "https://app.hubspot.com/contacts/4711/record/0-1/151"
    assert link.snapshot["contact"]["name"] == "Anna Petrova"
    assert link.snapshot["company"]["name"] == "Acme GmbH"
    [note] = hubspot.notes.values()
    assert note["contact"] == "151"
    assert f"Support ticket #{ticket.number} opened: VPN drops every hour" in note["body"]
    assert f"https://help.example.test/agent/tickets/{ticket.number}" in note["body"]
    row = db.session.execute(select(CrmNote)).scalar_one()
    assert row.external_id in hubspot.notes and row.key in note["body"]
    assert connection.status == ConnectionStatus.OK

    change_status(ticket, Actor.for_user(make.agent()), "resolved")
    db.session.commit()
    drain()
    bodies = sorted(n["body"] for n in hubspot.notes.values())
    assert len(bodies) == 2 and any("resolved: VPN drops every hour" in b for b in bodies)


def test_a_requester_matching_two_crm_contacts_is_left_for_an_agent(make, connection, hubspot):
    hubspot.add_contact("152", "anna@acme.test", "Anna Petrova (duplicate)")
    customer, _ = open_for(make)
    drain()
    link = link_of(customer.contact)
    assert link.external_id is None
    assert sorted(c["id"] for c in link.candidates) == ["151", "152"]
    assert hubspot.notes == {}  # no record chosen: nothing to write to


def test_a_link_an_agent_set_or_removed_is_never_overwritten(make, connection, hubspot):
    hubspot.add_contact("300", "boss@acme.test", "Anna's manager")
    customer, _ = open_for(make)
    drain()
    link = link_of(customer.contact)
    link.external_id, link.set_by_agent = "300", True
    db.session.commit()
    make.ticket(requester=customer)
    db.session.commit()
    drain()
    db.session.refresh(link)
    assert link.external_id == "300"
    assert [n["contact"] for n in hubspot.notes.values()].count("300") == 1

    link.external_id, link.set_by_agent, link.unlinked_by_agent = None, False, True
    db.session.commit()
    make.ticket(requester=customer)
    db.session.commit()
    drain()
    db.session.refresh(link)
    assert link.external_id is None and len(hubspot.notes) == 2


def test_while_the_crm_is_down_tickets_flow_and_every_note_arrives_once_later(
    make, connection, hubspot
):
    hubspot.down = True
    customers = [make.customer(email=f"anna{n}@acme.test", name=f"Anna {n}") for n in range(3)]
    db.session.commit()
    for customer in customers:
        started = time.monotonic()
        make.ticket(requester=customer)
        db.session.commit()
        assert time.monotonic() - started < 2.0  # generous: a loaded machine, not a CRM call
    assert hubspot.requests == []  # creating tickets never calls the CRM
    for n in range(3):
        hubspot.add_contact(f"15{n}", f"anna{n}@acme.test", f"Anna {n}")
    drain()
    db.session.refresh(connection)
    assert connection.status == ConnectionStatus.DEGRADED
    assert connection.consecutive_failures >= 3 and "503" in connection.last_error
    assert hubspot.notes == {}

    hubspot.down = False
    make_retries_due()
    drain()
    assert sorted(n["contact"] for n in hubspot.notes.values()) == ["150", "151", "152"]
    assert set(hubspot.created_per_marker().values()) == {1}
    make_retries_due()
    drain()  # running everything again writes nothing twice
    assert len(hubspot.notes) == 3
    db.session.refresh(connection)
    assert connection.status == ConnectionStatus.OK and connection.consecutive_failures == 0


def test_a_note_whose_answer_was_lost_is_found_instead_of_written_again(
    app, make, connection, hubspot
):
    app.config["HELPDESK_CRM_READ_TIMEOUT"] = SHORT_READ_TIMEOUT
    hubspot.lose_answers = 1
    _, ticket = open_for(make)
    drain()
    note = db.session.execute(select(CrmNote)).scalar_one()
    assert note.external_id is None and note.uncertain
    assert len(hubspot.notes) == 1  # HubSpot has it; we did not hear back
    hubspot.release.set()

    make_retries_due()
    drain()
    db.session.refresh(note)
    [(note_id, stored)] = hubspot.notes.items()
    assert note.external_id == note_id and str(ticket.number) in stored["body"]
    assert ("POST", "/crm/v3/objects/notes/search") in hubspot.requests
    assert hubspot.created_per_marker() == {note.key: 1}


def test_a_stale_snapshot_is_refreshed_in_the_background_not_by_the_page(
    app, make, connection, hubspot
):
    customer, ticket = open_for(make)
    drain()
    link = link_of(customer.contact)
    link.snapshot_at = utcnow().replace(year=2020)
    db.session.commit()
    hubspot.contacts["151"]["properties"]["lastname"] = "Petrova-Schmidt"
    hubspot.requests.clear()
    with app.test_request_context(f"/agent/tickets/{ticket.number}"):
        page = render_template_string('{% include "crm/panel.html" %}', ticket=ticket)
    assert "Anna Petrova" in page and "refreshing" in page
    assert hubspot.requests == []  # the page did not wait for HubSpot
    queued = db.session.scalar(select(func.count()).where(OutboxItem.kind == "crm.refresh_link"))
    assert queued == 1
    drain()
    db.session.refresh(link)
    assert link.snapshot["contact"]["name"] == "Anna Petrova-Schmidt"
    assert link.refresh_requested_at is None


def test_the_built_in_crm_answers_from_the_helpdesks_own_records(make):
    org = make.organization("Acme", domains=["acme.test"])
    org.tax_id = "7707083893"
    customer = make.customer(email="anna@acme.test")
    db.session.commit()
    builtin = BuiltinAdapter()
    [found] = builtin.find_contacts(email="ANNA@acme.test")
    assert found.external_id == str(customer.contact.id) and found.company_id == str(org.id)
    assert [c.name for c in builtin.find_companies(domain="acme.test")] == ["Acme"]
    assert [c.name for c in builtin.find_companies(tax_id="7707083893")] == ["Acme"]
