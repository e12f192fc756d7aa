"""Signing in and out in a real browser, with the keyboard only and on a phone."""

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _tab_to(page: Page, name: str, limit: int = 15) -> None:
    """Press Tab until the focused control is called `name` (bounded: it must be reachable)."""
    for _ in range(limit):
        label = page.evaluate("document.activeElement && document.activeElement.textContent")
        if label and label.strip() == name:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{name!r} was not reachable with Tab in {limit} presses")


def _sign_in_with_keyboard(page: Page, email: str, password: str) -> None:
    expect(page.get_by_label("E-mail address")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(password)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Keep me signed in")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")


@pytest.mark.parametrize(
    ("role", "home", "heading"),
    [
        ("customer", "/tickets", "My requests"),
        ("agent", "/agent/", "Open tickets"),
        ("admin", "/agent/", "Open tickets"),
    ],
)
def test_each_role_signs_in_and_out_with_the_keyboard_only(live_server, page, role, home, heading):
    email = live_server.create_user(role, name=f"Robin {role.title()}")
    page.goto(f"{live_server.url}/login")

    _sign_in_with_keyboard(page, email, PASSWORD)

    expect(page).to_have_url(f"{live_server.url}{home}")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_role("banner")).to_contain_text(f"Robin {role.title()}")

    _tab_to(page, "Sign out")
    page.keyboard.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{live_server.url}{home}")
    expect(page).to_have_url(f"{live_server.url}/login?next={home.replace('/', '%2F')}")


def test_wrong_password_shows_the_error_and_keeps_the_address(live_server, page):
    email = live_server.create_user("customer")
    page.goto(f"{live_server.url}/login")

    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail address or password.")
    expect(page.get_by_label("E-mail address")).to_have_value(email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page).to_have_url(f"{live_server.url}/login")


def test_login_page_fits_a_phone_screen_without_sideways_scrolling(live_server, phone_page):
    email = live_server.create_user("customer")
    phone_page.goto(f"{live_server.url}/login")

    expect(phone_page.get_by_role("button", name="Sign in")).to_be_visible()
    # innerWidth is the phone's width only if the page declares a mobile viewport.
    assert phone_page.evaluate("innerWidth") == 390
    assert phone_page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    button = phone_page.get_by_role("button", name="Sign in").bounding_box()
    assert button["x"] >= 0 and button["x"] + button["width"] <= 390

    phone_page.get_by_label("E-mail address").fill(email)
    phone_page.get_by_label("Password").fill(PASSWORD)
    phone_page.get_by_role("button", name="Sign in").tap()

    expect(phone_page.get_by_role("heading", level=1)).to_have_text("My requests")
    assert phone_page.evaluate("document.documentElement.scrollWidth <= innerWidth")
