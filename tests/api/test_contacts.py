"""Contacts and organizations: agents read and search them; a CRM upserts them."""

from sqlalchemy import select

from helpdesk.contacts.models import Contact, Organization
from helpdesk.contacts.services import find_or_create_contact
from helpdesk.extensions import db
from tests.api.conftest import assert_error


def test_agent_finds_a_contact_by_address_or_part_of_a_name(api, make):
    agent = make.agent()
    make.organization("Acme", domains=["acme.test"])
    ann = find_or_create_contact("Ann.Smith@acme.test", "Ann Smith")
    find_or_create_contact("bob@example.test", "Bob Jones")
    db.session.commit()
    client = api(agent)

    by_email = client.get("/contacts?email=ANN.SMITH@acme.test").get_json()["items"]
    assert [c["id"] for c in by_email] == [ann.id]
    assert by_email[0]["organization"]["name"] == "Acme"
    assert by_email[0]["emails"] == ["ann.smith@acme.test"] and by_email[0]["has_account"] is False
    assert [c["name"] for c in client.get("/contacts?q=jon").get_json()["items"]] == ["Bob Jones"]
    assert client.get(f"/contacts/{ann.id}").get_json()["name"] == "Ann Smith"
    assert_error(client.get("/contacts/999999"), 404)


def test_customers_cannot_read_the_address_book(api, make):
    customer = make.customer()
    db.session.commit()
    client = api(customer)

    assert_error(client.get("/contacts?email=x@example.test"), 403, "forbidden")
    assert_error(client.get("/organizations"), 403, "forbidden")
    assert_error(client.put("/organizations/acme-1", json={"name": "Acme"}), 403)
    assert_error(client.put("/contacts/c-1", json={"name": "Ann"}), 403)


def test_organization_upsert_creates_then_updates_the_same_record(api, make):
    agent = make.agent()
    db.session.commit()
    client = api(agent)

    created = client.put(
        "/organizations/ACC-001",
        json={"name": "Acme Corp", "crm": "hubspot", "domains": ["acme.test"], "notes": "Gold"},
    )
    updated = client.put(
        "/organizations/ACC-001",
        json={
            "name": "Acme Corporation",
            "crm": "hubspot",
            "domains": ["acme.test", "acme.example"],
        },
    )

    assert created.status_code == 201 and updated.status_code == 200
    body = updated.get_json()
    assert body["id"] == created.get_json()["id"]
    assert body["name"] == "Acme Corporation" and body["notes"] == "Gold"
    assert body["domains"] == ["acme.example", "acme.test"]
    assert (body["crm"], body["external_id"]) == ("hubspot", "ACC-001")
    assert len(db.session.execute(select(Organization)).all()) == 1
    found = client.get("/organizations?q=corporation").get_json()["items"]
    assert [o["id"] for o in found] == [body["id"]]


def test_organization_upsert_takes_over_a_namesake_but_not_anothers_record(api, make):
    agent = make.agent()
    existing = make.organization("Globex")
    db.session.commit()
    client = api(agent)

    adopted = client.put("/organizations/G-1", json={"name": "Globex"})
    assert adopted.status_code == 200 and adopted.get_json()["id"] == existing.id

    clash = client.put("/organizations/G-2", json={"name": "Globex"})
    assert "name" in assert_error(clash, 409, "conflict")["fields"]


def test_contact_upsert_links_the_organization_and_only_adds_addresses(api, make):
    agent = make.agent()
    db.session.commit()
    client = api(agent)
    client.put("/organizations/ORG-7", json={"name": "Initech", "crm": "salesforce"})

    created = client.put(
        "/contacts/CON-1",
        json={
            "name": "Peter Gibbons",
            "crm": "salesforce",
            "emails": ["peter@initech.test"],
            "phones": ["+1 555 0100"],
            "organization_external_id": "ORG-7",
        },
    )
    updated = client.put(
        "/contacts/CON-1",
        json={"name": "Peter G.", "crm": "salesforce", "emails": ["pg@home.test"]},
    )

    assert created.status_code == 201, created.get_data(as_text=True)
    assert updated.status_code == 200
    body = updated.get_json()
    assert body["name"] == "Peter G." and body["organization"]["name"] == "Initech"
    assert body["emails"] == ["peter@initech.test", "pg@home.test"]
    assert body["phones"] == ["+1 555 0100"]
    assert client.get("/contacts?email=pg@home.test").get_json()["items"][0]["id"] == body["id"]


def test_contact_upsert_refuses_an_address_of_another_contact_with_409(api, make):
    agent = make.agent()
    make.customer(email="taken@example.test")
    db.session.commit()
    client = api(agent)
    client.put("/contacts/A", json={"name": "A", "emails": ["a@example.test"]})

    other_crm_record = client.put("/contacts/B", json={"name": "B", "emails": ["a@example.test"]})
    assert "emails" in assert_error(other_crm_record, 409, "conflict")["fields"]

    adopted = client.put("/contacts/C", json={"name": "Taken", "emails": ["taken@example.test"]})
    assert adopted.status_code == 200 and adopted.get_json()["has_account"] is True

    grab = client.put("/contacts/A", json={"name": "A", "emails": ["taken@example.test"]})
    assert "emails" in assert_error(grab, 409)["fields"]
    assert len(db.session.execute(select(Contact)).all()) == 2


def test_upsert_checks_its_input(api, make):
    agent = make.agent()
    db.session.commit()
    client = api(agent)

    assert (
        "crm"
        in assert_error(client.put("/contacts/X", json={"name": "X", "crm": "Bad CRM"}), 422)[
            "fields"
        ]
    )
    assert (
        "emails"
        in assert_error(client.put("/contacts/X", json={"name": "X", "emails": ["nope"]}), 422)[
            "fields"
        ]
    )
    unknown_org = client.put("/contacts/X", json={"name": "X", "organization_external_id": "none"})
    assert "organization_external_id" in assert_error(unknown_org, 422)["fields"]
    assert_error(client.put("/contacts/a%2Fb", json={"name": "X"}), 404)
