"""The dashboard in a real browser on a phone: charts drawn, nothing wider than the screen."""

import pytest
from playwright.sync_api import expect

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.states import Status
from tests.conftest import PASSWORD, Builder

pytestmark = pytest.mark.browser


def test_the_dashboard_draws_its_charts_on_a_phone(live_server, phone_page):
    with live_server.app.app_context():
        make = Builder()
        support = make.team("Support")
        alice = make.agent(email="alice@desk.test", name="Alice Agent", teams=[support])
        carol = make.customer(email="carol@example.com", name="Carol Customer")
        for i in range(3):
            make.ticket(carol, subject=f"Question {i}", team=support)
        done = make.ticket(carol, subject="Answered", team=support)
        services.assign(done, Actor.system(), assignee=alice)
        services.change_status(done, Actor.for_user(alice), Status.RESOLVED)
        db.session.commit()
    page = phone_page
    page.goto(f"{live_server.url}/login")
    page.get_by_label("E-mail address").fill("alice@desk.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name="Dashboard").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    chart = page.get_by_role("img", name="Tickets created and resolved per day, last 7 days")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    today = page.locator("rect.bar-created").last
    expect(today.locator("title")).to_contain_text("4 created")
    assert today.bounding_box()["height"] > 50  # the tallest bar: the whole plot's height
    expect(page.locator("#backlog-team svg.hbar")).to_be_visible()
    expect(page.locator("#backlog-status tr", has_text="New")).to_contain_text("3")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.get_by_text("Numbers per day").click()
    expect(page.locator("#flow tbody tr").last).to_contain_text("4")
