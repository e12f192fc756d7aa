"""A small helpdesk for console tests: two teams, their agents, an admin and a customer."""

from dataclasses import dataclass

import pytest
from flask import g
from flask.testing import FlaskClient

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


class AgentClient(FlaskClient):
    """A test client whose requests each load their own user.

    The `app` fixture keeps an app context open for the whole test, and requests reuse it, so
    `g` (where Flask-Login keeps the signed-in user) would carry one client's user into the
    next client's request."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        g.pop("actor", None)
        return super().open(*args, **kwargs)


@pytest.fixture
def agent_client_class(app):
    app.test_client_class = AgentClient
    return AgentClient


@pytest.fixture
def alice_client(app, desk, agent_client_class):
    client = app.test_client()
    login(client, desk.alice.email)
    return client


@pytest.fixture
def bob_client(app, desk, agent_client_class):
    client = app.test_client()
    login(client, desk.bob.email)
    return client


@pytest.fixture
def admin_client(app, desk, agent_client_class):
    client = app.test_client()
    login(client, desk.admin.email)
    return client


def page(response) -> str:
    return response.get_data(as_text=True)
