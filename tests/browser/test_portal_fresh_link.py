"""In a real browser: an expired ticket link, the "send me a fresh link" form, and the mailed
link opening the request. The page is saved as test-artifacts/screenshots/portal-fresh-link.png."""

import re
import time
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import expect

from helpdesk import create_app
from helpdesk.extensions import db
from helpdesk.outbox.runner import run_due
from helpdesk.settings import set_setting
from helpdesk.tickets.links import make_link_token
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import Builder, base_config

pytestmark = pytest.mark.browser


def _expired_link(server, monkeypatch) -> str:
    """A link to a new ticket of ann@example.test, made 31 days ago (links live 30 days)."""
    with server.app.app_context():
        set_setting("link_days", 30)
        customer = Builder().customer(email="ann@example.test")
        ticket = Builder().ticket(requester=customer, subject="Heating broken")
        with monkeypatch.context() as past:
            long_ago = time.time() - 31 * 86400
            past.setattr(time, "time", lambda: long_ago)
            token = make_link_token(ticket)
        db.session.commit()
        db.session.remove()
    return f"{server.url}/t/{token}"


def _mails_to(server, smtp, address: str) -> list:
    """Run the outbox as a worker would (mail to the suite's SMTP server); the mails sent."""
    config = server.app.config
    worker = create_app(
        {
            **base_config(config["SQLALCHEMY_DATABASE_URI"], config["HELPDESK_STORAGE"]),
            "MAIL_SERVER": smtp.host,
            "MAIL_PORT": smtp.port,
            "MAIL_SUPPRESS_SEND": False,
            "HELPDESK_BASE_URL": server.url,
        }
    )
    with worker.app_context():
        run_due()
        db.session.remove()
        db.engine.dispose()
    return [
        message_from_bytes(m.content, policy=policy.default)
        for m in smtp.messages
        if address in m.rcpt_tos
    ]


def test_an_expired_link_mails_a_fresh_one_that_opens_the_request(
    live_server, page, smtp, monkeypatch
):
    smtp.clear()
    page.goto(_expired_link(live_server, monkeypatch))
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    expect(page.get_by_text("Heating broken")).to_have_count(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "portal-fresh-link.png"), full_page=True)

    page.get_by_label("E-mail address").fill("ann@example.test")
    page.get_by_role("button", name="Send me a fresh link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")
    expect(page.get_by_text("If ann@example.test is an address of this request")).to_be_visible()

    [mail] = [
        m
        for m in _mails_to(live_server, smtp, "ann@example.test")
        if m["Subject"] == "A fresh link to your request"
    ]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"(https?://\S+/t/\S+)", text).group(1)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Heating broken")
