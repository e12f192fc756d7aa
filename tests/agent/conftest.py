"""A small helpdesk for console tests: two teams, their agents, an admin and a customer."""

from dataclasses import dataclass

import pytest

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from tests.conftest import login


@dataclass
class Desk:
    support: object
    billing: object
    alice: object  # agent in Support
    bob: object  # agent in Billing
    admin: object
    carol: object  # a customer


@pytest.fixture
def desk(make) -> Desk:
    support, billing = make.team("Support"), make.team("Billing")
    alice = make.agent(email="alice@desk.test", name="Alice Agent", teams=[support])
    bob = make.agent(email="bob@desk.test", name="Bob Billing", teams=[billing])
    admin = make.admin(email="admin@desk.test", name="Ada Admin")
    carol = make.customer(email="carol@example.com", name="Carol Customer")
    db.session.commit()
    return Desk(support, billing, alice, bob, admin, carol)


def as_actor(user) -> Actor:
    return Actor.for_user(user)


@pytest.fixture
def alice_client(app, desk):
    client = app.test_client()
    login(client, desk.alice.email)
    return client


@pytest.fixture
def bob_client(app, desk):
    client = app.test_client()
    login(client, desk.bob.email)
    return client


@pytest.fixture
def admin_client(app, desk):
    client = app.test_client()
    login(client, desk.admin.email)
    return client


def page(response) -> str:
    return response.get_data(as_text=True)
