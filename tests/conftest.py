"""Shared fixtures: a real database (SQLite or PostgreSQL, by HELPDESK_TEST_DB), migrated once
per session and emptied after each test; the app, its client and CLI runner; object builders."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from sqlalchemy import text

from helpdesk import create_app
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Role
from helpdesk.extensions import db
from helpdesk.outbox import dispatch
from tests import servers

TEST_DB = os.environ.get("HELPDESK_TEST_DB", "sqlite")
PASSWORD = "correct horse battery"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if TEST_DB == "postgres":
        with servers.postgres_server() as pg:
            yield pg.url
    elif TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'helpdesk.sqlite3'}"
    else:
        raise RuntimeError(f"HELPDESK_TEST_DB must be sqlite or postgres, not {TEST_DB!r}")


@pytest.fixture(scope="session")
def redis_url():
    with servers.redis_server() as redis:
        yield redis.url


@pytest.fixture(scope="session")
def smtp():
    with servers.smtp_server() as server:
        yield server


def smtp_config(smtp) -> dict:
    """Config that sends real mail to the suite's SMTP server, emptied first (under TESTING,
    Flask-Mail would otherwise drop every mail silently)."""
    smtp.clear()
    return {"MAIL_SERVER": smtp.host, "MAIL_PORT": smtp.port, "MAIL_SUPPRESS_SEND": False}


def base_config(database_url: str, storage: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": (
            {"connect_args": {"timeout": 30}} if database_url.startswith("sqlite") else {}
        ),
        "HELPDESK_STORAGE": storage,
        "HELPDESK_FAST_HASH": True,
        "OUTBOX_DISPATCH": "none",
        "REDIS_URL": None,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "WTF_CSRF_ENABLED": False,
        "MAIL_SERVER": None,
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def migrated(database_url, tmp_path_factory):
    """Apply the Alembic migrations once: the suite runs on the schema users get."""
    from flask_migrate import upgrade

    app = create_app(base_config(database_url, str(tmp_path_factory.mktemp("storage"))))
    with app.app_context():
        # "heads": features developed side by side may each add a branch; all of them apply.
        upgrade(revision="heads")
        db.engine.dispose()
    return database_url


def _empty_all_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture
def storage_dir():
    path = tempfile.mkdtemp(prefix="helpdesk-storage-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def app_config(migrated, storage_dir) -> dict:
    """Override entries in a test (before `app` is first used) to change the app's config."""
    return base_config(migrated, storage_dir)


class RequestClient(FlaskClient):
    """Runs each request in an app context of its own, as a server does: `g` (Flask-Login's
    user, the CSRF token) and the database session belong to that request alone, never to the
    test body or another request. What the test body wrote is committed first (a request only
    sees committed rows), which also expires the body's objects: they reload what the request
    wrote."""

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config):
    """The app, with an app context open for the test body (its `db.session`, the builders);
    the test client runs requests in contexts of their own (see RequestClient)."""
    app = create_app(app_config)
    app.test_client_class = RequestClient
    with app.app_context():
        yield app
        # In-process outbox runners still at work would hold locks the cleanup needs.
        dispatch.drain()
        db.session.rollback()
        _empty_all_tables()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Builder:
    """Makes real domain objects through the real services."""

    def __init__(self):
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def user(self, role: Role | str = Role.CUSTOMER, email=None, name=None, teams=(), **extra):
        from helpdesk.accounts.services import create_user

        n = self._next()
        user = create_user(
            email or f"{role}{n}@example.test",
            PASSWORD,
            Role(role),
            name=name or f"{str(role).title()} {n}",
            teams=list(teams),
        )
        for key, value in extra.items():
            setattr(user, key, value)
        db.session.flush()
        return user

    def agent(self, **kw):
        return self.user(Role.AGENT, **kw)

    def admin(self, **kw):
        return self.user(Role.ADMIN, **kw)

    def customer(self, **kw):
        return self.user(Role.CUSTOMER, **kw)

    def team(self, name=None, members=()):
        from helpdesk.accounts.services import create_team

        return create_team(name or f"Team {self._next()}", list(members))

    def organization(self, name=None, domains=()):
        from helpdesk.contacts.services import create_organization

        return create_organization(name or f"Org {self._next()}", list(domains))

    def ticket(self, requester=None, subject="Printer is broken", body="It jams.", **kw):
        from helpdesk.tickets.models import Channel
        from helpdesk.tickets.services import open_ticket

        requester = requester or self.customer()
        contact = requester.contact if hasattr(requester, "contact") else requester
        return open_ticket(
            Actor.system(),
            requester=contact,
            subject=subject,
            body=body,
            channel=kw.pop("channel", Channel.PORTAL),
            **kw,
        )


@pytest.fixture
def make(app):
    return Builder()


def login(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


@pytest.fixture
def actor_of():
    return Actor.for_user
