"""The business settings page in a real browser on a phone: edit, save, see it applied."""

import pytest
from playwright.sync_api import Page, expect

from helpdesk.extensions import db
from tests.conftest import PASSWORD, Builder

pytestmark = pytest.mark.browser


@pytest.fixture
def admin_email(live_server) -> str:
    with live_server.app.app_context():
        make = Builder()
        make.team("Hardware team")
        admin = make.admin(email="admin@desk.test", name="Ada Admin")
        db.session.commit()
        return admin.email


def test_an_admin_renames_the_business_and_adds_a_category_on_a_phone(
    live_server, phone_page: Page, admin_email
):
    base = live_server.url
    phone_page.goto(f"{base}/login")
    phone_page.get_by_label("E-mail address").fill(admin_email)
    phone_page.get_by_label("Password").fill(PASSWORD)
    phone_page.get_by_role("button", name="Sign in").click()
    phone_page.wait_for_url(f"{base}/agent/")

    phone_page.goto(f"{base}/agent/admin/business")
    expect(phone_page.get_by_role("heading", level=1)).to_have_text("Business settings")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= innerWidth")

    name_form = phone_page.locator("#setting-business_name")
    name_form.get_by_label("Business name").fill("Acme Support")
    name_form.get_by_role("button", name="Save").click()
    expect(phone_page.locator(".flash")).to_have_text("Saved: Business name.")
    expect(phone_page.locator("a.brand")).to_have_text("Acme Support")
    expect(phone_page.locator("#setting-business_name")).to_contain_text("Reset to default")

    categories = phone_page.locator("#setting-categories")
    categories.get_by_label("Category 1", exact=True).fill("Printers")
    categories.get_by_label("Team of category 1").select_option("Hardware team")
    categories.get_by_role("button", name="Save categories").click()
    expect(phone_page.locator(".flash")).to_have_text("Saved: Categories.")
    expect(phone_page.get_by_label("Category 1", exact=True)).to_have_value("Printers")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= innerWidth")
