"""The console speaks the agent's language: the one in their profile, or the one they picked."""

import pytest

from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.states import Status
from tests.agent.conftest import as_actor, page


@pytest.fixture
def ticket(make, desk):
    ticket = make.ticket(desk.carol, subject="Printer jams", body="Page 2 jams.", team=desk.support)
    services.change_status(ticket, as_actor(desk.alice), Status.PENDING)
    db.session.commit()
    return ticket


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        ("ru", ["Очередь", "Поиск", "Исполнитель:", "Внутренняя заметка", "ожидает"]),
        ("pt_BR", ["Fila", "Pesquisar", "Responsável:", "Nota interna", "pendente"]),
    ],
)
def test_an_agent_whose_profile_says_so_reads_the_ticket_page_in_their_language(
    alice_client, desk, ticket, locale, words
):
    desk.alice.locale = locale
    db.session.commit()

    html = page(alice_client.get(f"/agent/tickets/{ticket.number}"))

    for word in words:
        assert word in html
    for english in ("Internal note", "Assignee:", ">Queue<"):
        assert english not in html
    assert "Printer jams" in html and "Page 2 jams." in html  # the customer's words stay as sent


def test_the_history_names_the_change_in_the_agents_language(alice_client, desk, ticket):
    html = page(alice_client.get(f"/agent/tickets/{ticket.number}?lang=ru"))

    assert "<strong>Alice Agent</strong> изменил(а) статус" in html
    assert "<em>ожидает</em>" in html


def test_the_presence_line_comes_in_the_agents_language(app, alice_client, desk, ticket, make):
    from tests.conftest import login

    sam = make.agent(email="sam@desk.test", name="Sam Support", teams=[desk.support])
    db.session.commit()
    sam_client = app.test_client()
    login(sam_client, sam.email)
    sam_client.post(f"/agent/tickets/{ticket.number}/presence", data={"state": "composing"})

    answer = alice_client.post(
        f"/agent/tickets/{ticket.number}/presence?lang=pt_BR", data={"state": "viewing"}
    ).get_json()

    [other] = answer["others"]
    assert other["name"] == "Sam Support" and other["text"].startswith("Sam Support ")
    assert "writing a reply" not in other["text"]


def test_admin_pages_follow_the_language(admin_client, desk):
    html = page(admin_client.get("/agent/admin/?lang=ru"))

    assert "Администрирование" in html
    assert "Administration" not in html


def test_a_refused_change_is_explained_in_the_agents_language(alice_client, desk, ticket):
    desk.alice.locale = "ru"
    db.session.commit()

    response = alice_client.post(
        f"/agent/tickets/{ticket.number}/fields",
        data={"version": ticket.version, "status": "bogus"},
    )

    assert response.status_code == 400
    assert "«bogus» — не статус." in page(response)
    assert "is not a status" not in page(response)
