"""A live server and a real Chromium for browser tests; a screenshot after each test."""

import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from helpdesk import create_app
from helpdesk.extensions import db
from tests.conftest import Builder, _empty_all_tables, base_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@dataclass
class LiveServer:
    app: Flask
    url: str

    def create_user(self, role: str, **fields) -> str:
        """Make a user through the services, committed so the server sees it; returns the
        address (the password is tests.conftest.PASSWORD)."""
        with self.app.app_context():
            user = Builder().user(role, **fields)
            db.session.commit()
            return user.email


@pytest.fixture(scope="session")
def live_server(migrated):
    storage = tempfile.mkdtemp(prefix="helpdesk-browser-storage-")
    # CSRF on, as users get it: the real forms must carry their tokens.
    app = create_app({**base_config(migrated, storage), "WTF_CSRF_ENABLED": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(timeout=10)
    with app.app_context():
        db.engine.dispose()
    shutil.rmtree(storage, ignore_errors=True)


@pytest.fixture(autouse=True)
def _empty_tables_after_test(live_server):
    yield
    with live_server.app.app_context():
        _empty_all_tables()
        db.session.remove()


@pytest.fixture(scope="session")
def browser():
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    except PlaywrightError as exc:
        playwright.stop()
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        pytest.fail(f"Chromium at {CHROMIUM} would not start: {first_line}", pytrace=False)
    yield chromium
    chromium.close()
    playwright.stop()


def _open_page(browser, request, **context_options):
    context = browser.new_context(**context_options)
    page = context.new_page()
    try:
        yield page
    finally:
        # Always, pass or fail: a person can look at what the test last saw.
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        finally:
            context.close()


@pytest.fixture
def page(browser, request):
    """A desktop-sized page in a fresh browser context (no cookies from other tests)."""
    yield from _open_page(browser, request)


@pytest.fixture
def phone_page(browser, request):
    """A page in a phone-sized, touch, mobile browser context (390 x 844)."""
    yield from _open_page(browser, request, **PHONE)
