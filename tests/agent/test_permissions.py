"""Who may use the console and which tickets each agent reaches: checked in the domain, so
every page and action answers alike."""

import pytest

from helpdesk.extensions import db
from helpdesk.validation import Upload
from tests.agent.conftest import page
from tests.conftest import login


@pytest.fixture
def billing_ticket(make, desk):
    ticket = make.ticket(
        desk.carol,
        subject="Invoice twice",
        team=desk.billing,
        uploads=[Upload("invoice.pdf", "application/pdf", b"%PDF-1.4 test")],
    )
    db.session.commit()
    return ticket


def test_an_agent_of_another_team_gets_404_for_the_ticket_page(alice_client, billing_ticket):
    response = alice_client.get(f"/agent/tickets/{billing_ticket.number}")

    assert response.status_code == 404
    assert "Invoice twice" not in page(response)


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("reply", {"body": "Hi", "last_seen": "0"}),
        ("note", {"body": "psst"}),
        ("fields", {"status": "pending"}),
        ("assign-to-me", {}),
        ("tags", {"add": "x"}),
        ("participants", {"email": "x@example.com"}),
        ("merge", {"target": "1"}),
        ("spam", {"block": "domain"}),
        ("delete", {}),
        ("presence", {"state": "viewing"}),
    ],
)
def test_an_agent_of_another_team_gets_404_for_every_action(
    alice_client, billing_ticket, path, data
):
    response = alice_client.post(f"/agent/tickets/{billing_ticket.number}/{path}", data=data)

    assert response.status_code == 404
    db.session.expire_all()
    assert billing_ticket.status.value == "new" and billing_ticket.tags == []


def test_an_agent_of_another_team_cannot_download_its_attachments(
    alice_client, bob_client, billing_ticket
):
    attachment = billing_ticket.messages[0].attachments[0]
    url = f"/agent/attachments/{attachment.id}/invoice.pdf"

    assert alice_client.get(url).status_code == 404
    response = bob_client.get(url)
    assert response.status_code == 200
    assert response.data == b"%PDF-1.4 test"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "invoice.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_ticket_number_in_a_search_does_not_reveal_other_teams_tickets(
    alice_client, billing_ticket
):
    response = alice_client.get(f"/agent/search?q={billing_ticket.number}")

    assert response.status_code == 200
    assert "Invoice twice" not in page(response)


@pytest.mark.parametrize(
    "path", ["/agent/", "/agent/search?q=x", "/agent/tickets/new", "/agent/tickets/1000"]
)
def test_customers_get_404_under_agent(client, desk, billing_ticket, path):
    login(client, desk.carol.email)

    assert client.get(path).status_code == 404


def test_customers_cannot_post_console_actions(client, desk, billing_ticket):
    login(client, desk.carol.email)

    response = client.post(f"/agent/tickets/{billing_ticket.number}/note", data={"body": "hi"})

    assert response.status_code == 404
    db.session.expire_all()
    assert len(billing_ticket.messages) == 1


def test_signed_out_visitors_are_sent_to_sign_in(client, desk):
    response = client.get("/agent/")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_agent_sees_unrouted_tickets_and_their_teams_but_an_admin_sees_all(
    make, desk, alice_client, admin_client
):
    make.ticket(desk.carol, subject="Routed to billing", team=desk.billing)
    make.ticket(desk.carol, subject="Nobody routed this")
    make.ticket(desk.carol, subject="Support question", team=desk.support)
    db.session.commit()

    mine = page(alice_client.get("/agent/"))
    everything = page(admin_client.get("/agent/"))

    assert "Nobody routed this" in mine and "Support question" in mine
    assert "Routed to billing" not in mine
    assert all(s in everything for s in ("Routed to billing", "Nobody routed this"))


def test_only_admins_delete_tickets(make, desk, alice_client, admin_client):
    ticket = make.ticket(desk.carol, subject="Delete me", team=desk.support)
    db.session.commit()

    refused = alice_client.post(f"/agent/tickets/{ticket.number}/delete")
    assert refused.status_code == 403
    assert "Only administrators delete tickets." in page(refused)

    path = f"/agent/tickets/{ticket.number}"
    done = admin_client.post(f"{path}/delete")
    assert done.status_code == 302
    assert admin_client.get(path).status_code == 404
