"""The console's client pages, CRM connections and the client panel's actions, through HTTP."""

import base64
import hashlib
import hmac
import time

import pytest
from flask import render_template_string
from sqlalchemy import func, select, text

from helpdesk.contacts.models import Contact, Organization
from helpdesk.contacts.services import find_contact_by_email
from helpdesk.crm.connections import ConnectionStatus, CrmConnection, CrmKind
from helpdesk.crm.links import CrmLink, Subject
from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem
from helpdesk.tickets.models import AuditEvent
from helpdesk.timeutil import utcnow
from tests.conftest import login


@pytest.fixture
def people(make):
    agent = make.agent(email="alice@desk.test", name="Alice Agent")
    admin = make.admin(email="ada@desk.test", name="Ada Admin")
    customer = make.customer(email="carol@example.com", name="Carol")
    db.session.commit()
    return agent, admin, customer


def client_for(app, user):
    client = app.test_client()
    login(client, user.email)
    return client


def page(response) -> str:
    return response.get_data(as_text=True)


def connection(**values) -> CrmConnection:
    conn = CrmConnection(name=values.pop("name", "hubspot"), kind=CrmKind.HUBSPOT, **values)
    conn.secret = "pat-secret-token"
    db.session.add(conn)
    db.session.commit()
    return conn


def test_an_agent_adds_and_edits_an_organization(app, people):
    agent = client_for(app, people[0])
    response = agent.post(
        "/agent/crm/organizations/new",
        data={
            "name": "Acme GmbH",
            "domains": "acme.test\n@Acme.example",
            "tax_id": "de 123 456 789",
            "phones": "+49 30 901820\n+49 (30) 901820",
            "notes": "Pays late.",
        },
    )
    assert response.status_code == 302
    org = db.session.execute(select(Organization)).scalar_one()
    assert [d.domain for d in org.domains] == ["acme.test", "acme.example"]
    assert (org.tax_id, [p.phone for p in org.phones]) == ("DE123456789", ["+4930901820"])
    listing = page(agent.get("/agent/crm/organizations?q=acme"))
    assert "Acme GmbH" in listing and "DE123456789" in listing and "+4930901820" in listing

    response = agent.post(
        f"/agent/crm/organizations/{org.id}",
        data={"name": "Acme AG", "domains": "acme.test", "tax_id": "", "phones": "", "notes": ""},
    )
    assert response.status_code == 302
    db.session.refresh(org)
    assert (org.name, [d.domain for d in org.domains], org.tax_id, org.phones) == (
        "Acme AG",
        ["acme.test"],
        None,
        [],
    )
    assert "Acme AG" in page(agent.get(f"/agent/crm/organizations/{org.id}"))
    trail = db.session.execute(
        select(AuditEvent.action, AuditEvent.new_value).order_by(AuditEvent.id)
    ).all()
    assert [action for action, _ in trail] == ["organization.created", "organization.changed"]
    assert trail[1][1] == "Acme AG; domains: acme.test; tax id: -; phones: -"


def test_a_duplicate_organization_or_a_bad_phone_is_refused_with_a_reason(app, people, make):
    make.organization("Acme")
    db.session.commit()
    agent = client_for(app, people[0])
    response = agent.post("/agent/crm/organizations/new", data={"name": "Acme", "phones": ""})
    assert response.status_code == 409 and "exists already" in page(response)
    response = agent.post("/agent/crm/organizations/new", data={"name": "Beta", "phones": "123"})
    assert response.status_code == 400 and "is not a phone number" in page(response)
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 1


def test_an_agent_keeps_a_contact_with_several_addresses_and_phones(app, people, make):
    org = make.organization("Acme")
    db.session.commit()
    agent = client_for(app, people[0])
    response = agent.post(
        "/agent/crm/contacts/new",
        data={
            "name": "Anna Petrova",
            "emails": "Anna@Acme.test, anna.p@gmail.com",
            "phones": "+7 495 123-45-67",
            "organization": str(org.id),
        },
    )
    assert response.status_code == 302
    anna = find_contact_by_email("anna.p@gmail.com")
    assert [e.email for e in anna.emails] == ["anna@acme.test", "anna.p@gmail.com"]
    assert [p.phone for p in anna.phones] == ["+74951234567"] and anna.organization == org
    assert "Anna Petrova" in page(agent.get("/agent/crm/contacts?q=gmail"))

    response = agent.post(
        f"/agent/crm/contacts/{anna.id}",
        data={"name": "Anna P.", "emails": "carol@example.com", "phones": "", "organization": ""},
    )
    assert response.status_code == 409 and "belongs to Carol" in page(response)
    response = agent.post(
        f"/agent/crm/contacts/{anna.id}",
        data={"name": "Anna P.", "emails": "anna@acme.test", "phones": "", "organization": ""},
    )
    db.session.expire_all()
    assert [e.email for e in anna.emails] == ["anna@acme.test"] and anna.organization is None


def test_the_address_a_customer_signs_in_with_cannot_be_removed(app, people):
    customer = people[2]
    agent = client_for(app, people[0])
    response = agent.post(
        f"/agent/crm/contacts/{customer.contact.id}",
        data={"name": "Carol", "emails": "carol@elsewhere.test", "phones": "", "organization": ""},
    )
    assert response.status_code == 400 and "is how they sign in" in page(response)


def test_customers_do_not_see_the_client_pages(app, people):
    customer = client_for(app, people[2])
    assert customer.get("/agent/crm/organizations").status_code == 404
    assert customer.get("/agent/crm/contacts/1").status_code == 404


def test_an_admin_adds_a_connection_whose_secret_is_stored_encrypted(app, people):
    admin = client_for(app, people[1])
    response = admin.post(
        "/agent/crm/connections",
        data={
            "name": "Bitrix",
            "kind": "bitrix24",
            "secret": "https://acme.bitrix24.test/rest/7/w3bh00ks3cr3t/",
            "snapshot_ttl": "30",
            "active": "y",
        },
    )
    assert response.status_code == 303, page(response)
    conn = db.session.execute(select(CrmConnection)).scalar_one()
    assert (conn.name, conn.kind, conn.snapshot_ttl) == ("bitrix", CrmKind.BITRIX24, 1800)
    assert conn.web_url == "https://acme.bitrix24.test"
    stored = db.session.execute(text("SELECT secret_encrypted FROM crm_connections")).scalar()
    assert "w3bh00ks3cr3t" not in stored and conn.secret.endswith("/w3bh00ks3cr3t/")
    listing = page(admin.get("/agent/crm/connections"))
    assert "bitrix" in listing and "w3bh00ks3cr3t" not in listing
    assert "w3bh00ks3cr3t" not in page(admin.get(f"/agent/crm/connections/{conn.id}"))
    agent = client_for(app, people[0])
    assert agent.get("/agent/crm/connections").status_code == 404


def test_crm_addresses_inside_the_network_are_refused(app, people):
    app.config["HELPDESK_CRM_ALLOW_PRIVATE"] = False
    admin = client_for(app, people[1])
    for secret in ("https://127.0.0.1/rest/1/abc/", "http://crm.example.com/rest/1/abc/"):
        response = admin.post(
            "/agent/crm/connections",
            data={"name": "b", "kind": "bitrix24", "secret": secret, "snapshot_ttl": "60"},
        )
        assert response.status_code == 400
        assert "private or local" in page(response) or "must use https" in page(response)
    assert db.session.scalar(select(func.count()).select_from(CrmConnection)) == 0


def test_a_degraded_connection_is_shown_to_admins_and_a_test_clears_it(app, people, crm_server):
    conn = connection(base_url=crm_server.url_for("").rstrip("/"))
    conn.status, conn.consecutive_failures = ConnectionStatus.DEGRADED, 4
    conn.last_error = "POST 127.0.0.1/crm/v3/objects/notes: HTTP 503"
    db.session.commit()
    admin = client_for(app, people[1])
    listing = page(admin.get("/agent/crm/connections"))
    assert "degraded" in listing and "4 failures in a row" in listing and "HTTP 503" in listing
    crm_server.expect_request(
        "/account-info/v3/details", headers={"Authorization": "Bearer pat-secret-token"}
    ).respond_with_json({"portalId": 4711, "uiDomain": "app.hubspot.com"})
    response = admin.post(f"/agent/crm/connections/{conn.id}/test", follow_redirects=True)
    assert "hubspot works: HubSpot account 4711." in page(response)
    db.session.refresh(conn)
    assert (conn.status, conn.consecutive_failures) == (ConnectionStatus.OK, 0)
    assert conn.web_url == "https://app.hubspot.com/contacts/4711"


def test_the_panel_actions_confirm_change_and_unlink_a_link(app, people, make):
    conn = connection(web_url="https://app.hubspot.com/contacts/4711")
    customer = people[2]
    ticket = make.ticket(requester=customer)
    link = CrmLink(
        connection=conn, subject=Subject.CONTACT, contact=customer.contact, external_id="151"
    )
    link.match_rule, link.snapshot = "email", {"contact": {"name": "Carol"}, "company": None}
    db.session.add(link)
    db.session.commit()
    agent = client_for(app, people[0])
    back = f"/agent/tickets/{ticket.number}"

    response = agent.post(f"/agent/crm/links/{link.id}/confirm", data={"next": back})
    assert response.status_code == 303 and response.headers["Location"].endswith(back)
    db.session.refresh(link)
    assert link.confirmed_by_agent and link.agent_id == people[0].id

    agent.post(f"/agent/crm/links/{link.id}/change", data={"next": back, "external_id": "160"})
    db.session.refresh(link)
    assert (link.external_id, link.set_by_agent, link.match_rule) == ("160", True, "agent")
    assert link.url == "https://app.hubspot.com/contacts/4711/record/0-1/160"
    assert link.snapshot is None
    queued = db.session.scalar(select(func.count()).where(OutboxItem.kind == "crm.refresh_link"))
    assert queued == 1  # the new record's details come from the background

    response = agent.post(
        f"/agent/crm/links/{link.id}/change", data={"next": back, "external_id": "<script>"}
    )
    assert response.status_code == 303
    db.session.refresh(link)
    assert link.external_id == "160"

    agent.post(f"/agent/crm/links/{link.id}/unlink", data={"next": "https://evil.test/"})
    db.session.refresh(link)
    assert link.external_id is None and link.unlinked_by_agent and not link.set_by_agent


def test_the_panel_shows_the_saved_record_and_the_match_reason(app, people, make):
    conn = connection()
    customer = people[2]
    ticket = make.ticket(requester=customer)
    link = CrmLink(
        connection=conn, subject=Subject.CONTACT, contact=customer.contact, external_id="151"
    )
    link.match_rule, link.confidence, link.url = "email", 1.0, "https://crm.test/151"
    link.snapshot = {
        "contact": {
            "name": "Carol Danvers",
            "emails": ["carol@example.com"],
            "phones": ["+4930901820"],
            "owner": "Jonas Weber",
            "details": {"position": "CTO"},
        },
        "company": {"name": "Acme GmbH", "url": "https://crm.test/c/9", "owner": None},
        "company_rule": "contact_company",
    }
    db.session.add(link)
    db.session.commit()
    with app.test_request_context(f"/agent/tickets/{ticket.number}"):
        html = render_template_string('{% include "crm/panel.html" %}', ticket=ticket)
    shown = [
        "Carol Danvers",
        "CTO",
        "Owner in the CRM: Jonas Weber",
        "Acme GmbH",
        "same e-mail address (100%)",
        "the contact&#39;s company in the CRM",
        "updated just now",
        "Confirm",
        "Unlink",
        'href="https://crm.test/151"',
    ]
    assert [text for text in shown if text not in html] == []


def sign(secret, url, body, stamp):
    digest = hmac.new(
        secret.encode(), b"POST" + url.encode() + body + stamp.encode(), hashlib.sha256
    )
    return base64.b64encode(digest.digest()).decode()


def test_a_signed_crm_webhook_marks_the_records_it_names_for_refresh(app, people):
    conn = connection()
    conn.webhook_secret = "client-secret"
    customer = people[2]
    link = CrmLink(
        connection=conn, subject=Subject.CONTACT, contact=customer.contact, external_id="151"
    )
    link.snapshot = {"contact": {"name": "Carol"}}
    db.session.add(link)
    db.session.commit()
    client = app.test_client()
    url = f"http://localhost/crm/webhooks/{conn.id}"
    body = b'[{"objectId": 151, "subscriptionType": "contact.propertyChange"}]'
    stamp = str(int(time.time() * 1000))
    forged = client.post(
        url,
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": "AAAA", "X-HubSpot-Request-Timestamp": stamp},
    )
    assert forged.status_code == 401
    db.session.refresh(link)
    assert link.snapshot_at is not None
    signed = client.post(
        url,
        data=body,
        content_type="application/json",
        headers={
            "X-HubSpot-Signature-v3": sign("client-secret", url, body, stamp),
            "X-HubSpot-Request-Timestamp": stamp,
        },
    )
    assert signed.status_code == 200 and signed.get_json() == {"received": 1}
    db.session.refresh(link)
    assert link.snapshot_at is None and link.is_stale(3600, utcnow())
    assert db.session.get(Contact, customer.contact.id) is not None
