"""An administrator staffs the helpdesk from a phone: a new team, then a new agent in it."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_an_admin_adds_a_team_and_an_agent_on_a_phone(live_server, phone_page):
    page = phone_page
    email = live_server.create_user("admin", name="Ada Admin")
    page.goto(f"{live_server.url}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server.url}/agent/admin/")
    page.get_by_role("link", name="Teams", exact=True).first.click()
    page.get_by_label("Name").fill("Night shift")
    page.get_by_label("Ada Admin").check()
    page.get_by_role("button", name="Create the team").click()
    expect(page.get_by_role("status")).to_have_text("The team Night shift is created.")
    expect(page.locator(".people-table")).to_contain_text("Night shift")
    expect(page.locator(".people-table")).to_contain_text("1 member")

    page.get_by_role("link", name="Agents", exact=True).first.click()
    page.get_by_role("link", name="Add an agent or administrator").click()
    page.get_by_label("E-mail address").fill("nina@desk.test")
    page.get_by_label("Name").fill("Nina Night")
    page.get_by_label("Night shift").check()
    page.get_by_role("button", name="Add").click()

    expect(page.get_by_role("status")).to_contain_text("Nina Night is added")
    row = page.locator(".people-table tr", has_text="Nina Night")
    expect(row).to_contain_text("nina@desk.test")
    expect(row).to_contain_text("Night shift")
    # Nothing spills sideways on a narrow screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]
