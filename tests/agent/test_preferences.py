"""/agent/preferences: each agent turns each kind of notification mail on or off, and the next
notification follows the choice; other agents are not affected."""

import pytest
from sqlalchemy import select

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.mail.delivery import SentMail
from helpdesk.notifications import agent_notifications
from helpdesk.outbox.runner import run_due
from helpdesk.tickets import services
from tests.agent.conftest import page
from tests.conftest import login, smtp_config

URL = "/agent/preferences"
ALL_ON = {"new_ticket": "y", "assigned": "y", "customer_reply": "y", "mention": "y"}


@pytest.fixture
def app_config(app_config, smtp):
    return {
        **app_config,
        **smtp_config(smtp),
        "HELPDESK_SUPPORT_ADDRESS": "support@help.example",
    }


@pytest.fixture
def people(make):
    team = make.team("Support")
    alice = make.agent(email="alice@desk.test", name="Alice", teams=[team])
    bob = make.agent(email="bob@desk.test", name="Bob", teams=[team])
    admin = make.admin(email="admin@desk.test")
    db.session.commit()
    return alice, bob, admin, team


def _client(app, user):
    client = app.test_client()
    login(client, user.email)
    return client


def _run() -> None:
    db.session.commit()
    while run_due():
        pass
    db.session.expire_all()


def _assigned_mails_to(smtp, address: str) -> list[str]:
    return [m.rcpt_tos[0] for m in smtp.messages if address in m.rcpt_tos]


def _assign(make, admin, agent, subject: str):
    ticket = make.ticket(subject=subject)
    services.assign(ticket, Actor.for_user(admin), assignee=agent)
    _run()
    return ticket


def test_the_page_shows_every_notification_on_by_default_and_is_in_the_navigation(app, people):
    alice, *_ = people

    body = page(_client(app, alice).get(URL))

    for label in (
        "A new ticket arrives in one of my teams",
        "A ticket is assigned to me",
        "A customer replies on a ticket assigned to me",
        "Someone @mentions me in a note",
    ):
        assert label in body
    assert body.count("checked") == 4
    assert f'href="{URL}"' in body  # the console's navigation links it


def test_turning_assigned_off_stops_only_that_agents_assignment_mails(app, smtp, make, people):
    alice, bob, admin, _team = people
    client = _client(app, alice)

    saved = client.post(URL, data={k: v for k, v in ALL_ON.items() if k != "assigned"})

    assert saved.status_code == 302
    shown = page(client.get(URL))
    assert "Your notification choices are saved." in shown
    assert shown.count("checked") == 3
    assert agent_notifications(alice) == {
        "new_ticket": True,
        "assigned": False,
        "customer_reply": True,
        "mention": True,
    }

    smtp.clear()
    _assign(make, admin, alice, "Printer on fire")
    _assign(make, admin, bob, "Scanner on fire")

    kinds = {
        (row.user_id, row.kind)
        for row in db.session.execute(select(SentMail).where(SentMail.user_id.is_not(None)))
        .scalars()
        .all()
    }
    assert (alice.id, "agent_assigned") not in kinds
    assert (bob.id, "agent_assigned") in kinds
    assert _assigned_mails_to(smtp, "alice@desk.test") == []
    assert _assigned_mails_to(smtp, "bob@desk.test") == ["bob@desk.test"]

    client.post(URL, data=ALL_ON)  # back on: the next assignment is mailed again
    smtp.clear()
    _assign(make, admin, alice, "Fax on fire")
    assert _assigned_mails_to(smtp, "alice@desk.test") == ["alice@desk.test"]


def test_customers_do_not_find_the_page(app, make, people):
    customer = make.customer(email="carol@example.com")
    db.session.commit()

    assert _client(app, customer).get(URL).status_code == 404
