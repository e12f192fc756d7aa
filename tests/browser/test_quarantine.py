"""The mail quarantine in a real browser on a phone: find the held mail, retry it, see the
ticket it became."""

import pytest
from playwright.sync_api import Page, expect

from helpdesk.extensions import db
from helpdesk.mail import ingest
from tests.conftest import CORPUS, PASSWORD, Builder

pytestmark = pytest.mark.browser

BROKEN = CORPUS / "spamscope-mail-parser" / "tests-mails" / "mail_malformed_1"  # 119,332 bytes


@pytest.fixture
def too_large(live_server):
    """The broken corpus mail, held as too large under a 0.1 MB limit (restored after)."""
    config = live_server.app.config
    before = config.get("HELPDESK_MAX_MAIL_MB", 25)
    config["HELPDESK_MAX_MAIL_MB"] = 0.1
    try:
        with live_server.app.app_context():
            Builder().agent(email="alice@desk.test", name="Alice Agent")
            db.session.commit()
            assert ingest.ingest_raw(BROKEN.read_bytes()).outcome == "too_large"
        yield config
    finally:
        config["HELPDESK_MAX_MAIL_MB"] = before


def test_an_agent_retries_a_quarantined_mail_on_a_phone_once_the_limit_is_raised(
    live_server, phone_page: Page, too_large
):
    base = live_server.url
    phone_page.goto(f"{base}/login")
    phone_page.get_by_label("E-mail address").fill("alice@desk.test")
    phone_page.get_by_label("Password").fill(PASSWORD)
    phone_page.get_by_role("button", name="Sign in").click()
    phone_page.wait_for_url(f"{base}/agent/")

    phone_page.locator(".console-nav").get_by_role("link", name="Incoming mail", exact=True).click()
    expect(phone_page.get_by_role("heading", level=1)).to_have_text("Mail quarantine (1)")
    row = phone_page.locator(".mail-row")
    expect(row).to_contain_text("femucca@tin.it")
    expect(row).to_contain_text("over the limit of 104857 bytes")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    too_large["HELPDESK_MAX_MAIL_MB"] = 25  # the cause is fixed
    row.get_by_role("button", name="Retry").click()

    expect(phone_page.locator(".flash")).to_contain_text("was processed: new ticket #")
    expect(phone_page.locator(".mail-list")).to_have_text("The quarantine is empty.")
    number = phone_page.locator(".flash").inner_text().rsplit("#", 1)[1].rstrip(".")
    phone_page.goto(f"{base}/agent/tickets/{number}")
    expect(phone_page.locator(".why-ticket")).to_be_attached()
