"""CRM test fixtures: a real HTTP server on 127.0.0.1 standing in for the CRM, an app that
may call it (plain http to loopback is allowed in tests only), and waits that are recorded
instead of slept."""

import threading

import pytest
from pytest_httpserver import HTTPServer

from helpdesk.extensions import db

# An ordinary answer gets a generous read timeout: on a loaded CI machine a loopback answer
# can take longer than half a second, and a test must not fail for it.
READ_TIMEOUT = 5.0
# The tests that hold an answer back on purpose wait for this one instead.
SHORT_READ_TIMEOUT = 0.5


class Waits(list):
    """The injectable sleep: records how long the client wanted to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(round(seconds, 3))


@pytest.fixture
def crm_server():
    # A server per test: a held-back answer from one test can never land in the next one's log.
    # Threaded: a test may hold one answer back (a timeout) while others are served.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def release():
    """An event a slow fake answer waits on; set at teardown so no handler outlives its test."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def app_config(app_config, waits):
    return app_config | {
        "HELPDESK_CRM_ALLOW_PRIVATE": True,
        "HELPDESK_CRM_CONNECT_TIMEOUT": 2,
        "HELPDESK_CRM_READ_TIMEOUT": READ_TIMEOUT,
        "HELPDESK_CRM_BACKOFF": 0,
        "HELPDESK_CRM_SLEEP": waits,
        "HELPDESK_BASE_URL": "https://help.example.test",
    }


def http_settings(waits, **overrides) -> dict:
    """Adapter keyword arguments for direct adapter tests."""
    return {
        "allow_private": True,
        "timeout": (2.0, READ_TIMEOUT),
        "backoff": 0.0,
        "sleep": waits,
    } | overrides


@pytest.fixture
def commit():
    def _commit(*objects):
        db.session.commit()
        return objects[0] if len(objects) == 1 else objects

    return _commit
