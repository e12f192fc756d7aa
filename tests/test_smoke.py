from helpdesk.tickets.states import Status
from tests.conftest import login


def test_healthz_reports_database_and_queue(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"]["status"] == "ok"
    assert body["queue"]["backend"] == "in-process"


def test_customer_signs_in_and_sees_own_ticket(client, make):
    customer = make.customer()
    ticket = make.ticket(requester=customer, subject="Cannot print invoices")
    from helpdesk.extensions import db

    db.session.commit()
    response = login(client, customer.email)
    assert response.status_code == 302
    page = client.get("/tickets").get_data(as_text=True)
    assert f"#{ticket.number}" in page and "Cannot print invoices" in page
    assert ticket.status == Status.NEW
