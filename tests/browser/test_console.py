"""The agent console in a real browser: a triage session, two agents on one ticket, a phone."""

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.tickets import canned, services
from helpdesk.tickets.models import Priority
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import PASSWORD, Builder

pytestmark = pytest.mark.browser

# Presence is polled every 10 s; give a change two polls to show up.
POLL_WAIT_MS = 25_000


@dataclass
class Desk:
    alice: str
    sam: str
    printer: int
    duplicate: int
    invoice: int


@pytest.fixture
def desk(live_server) -> Desk:
    """Two support agents, a customer and a few tickets, committed for the live server."""
    with live_server.app.app_context():
        make = Builder()
        support = make.team("Support")
        alice = make.agent(email="alice@desk.test", name="Alice Agent", teams=[support])
        sam = make.agent(email="sam@desk.test", name="Sam Support", teams=[support])
        admin = make.admin(email="admin@desk.test", name="Ada Admin")
        carol = make.customer(email="carol@example.com", name="Carol Customer")
        dave = make.customer(email="dave@example.org", name="Dave Dunn")
        for i in range(8):
            make.ticket(dave, subject=f"Routine question {i}", body="How do I…?", team=support)
        printer = make.ticket(
            carol,
            subject="Printer on the second floor jams",
            body="Every second page jams in the LaserJet since Monday.",
            team=support,
            priority=Priority.URGENT,
        )
        duplicate = make.ticket(
            carol,
            subject="Printer still jamming",
            body="Still jams, see my other mail.",
            team=support,
        )
        invoice = make.ticket(
            carol, subject="Invoice question", body="Why €12 extra?", team=support
        )
        services.tag(invoice, Actor.system(), add=["billing"])
        services.add_note(invoice, Actor.for_user(sam), body="Checked: it is the new VAT rate.")
        canned.create_canned_response(
            Actor.for_user(admin),
            title="Printer checklist",
            body="Hello {{customer_name}}, about ticket {{ticket_number}}: please check the tray.",
        )
        db.session.commit()
        return Desk(alice.email, sam.email, printer.number, duplicate.number, invoice.number)


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open tickets")


def press(page: Page, key: str) -> None:
    """Press a shortcut once agent.js listens (a deferred script runs after the page shows)."""
    page.locator("html[data-shortcuts=ready]").wait_for(state="attached")
    page.keyboard.press(key)


def queue_row(page: Page, number: int):
    return page.locator(f'tr[data-ticket="{number}"]')


def test_a_triage_session_filter_open_reply_note_assign_merge_search(live_server, page, desk):
    base = live_server.url
    sign_in(page, base, desk.alice)
    expect(page.locator(".views a[aria-current]")).to_contain_text("Open tickets")
    expect(page.locator(".views a[aria-current] .count")).to_have_text("11")

    # Filter: the urgent ones.
    page.locator("details.filters summary").click()
    page.locator(".filter-form fieldset").filter(has_text="Priority").get_by_label("urgent").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Filtered tickets")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "console_queue_filtered.png"), full_page=True)

    # Back to the whole queue; move down with j and open with o.
    page.get_by_role("link", name="Open tickets").click()
    expect(page.locator("tbody tr")).to_have_count(11)
    page.screenshot(path=str(SCREENSHOTS / "console_queue.png"), full_page=True)
    rows = page.locator("tbody tr")
    target = next(
        i for i in range(11) if rows.nth(i).get_attribute("data-ticket") == str(desk.printer)
    )
    for _ in range(target + 1):
        press(page, "j")
    expect(queue_row(page, desk.printer)).to_have_class(re.compile("current"))
    press(page, "o")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Printer on the second floor")

    # Assign to me with the keyboard.
    press(page, "a")
    expect(page.get_by_role("status").filter(has_text="is yours")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("Assignee: Alice Agent")

    # Reply with a canned response, filled in for Carol and this ticket.
    press(page, "r")
    expect(page.locator("#reply-body")).to_be_focused()
    page.locator("#canned").select_option(label="Printer checklist")
    expect(page.locator("#reply-body")).to_have_value(
        f"Hello Carol Customer, about ticket {desk.printer}: please check the tray."
    )
    page.locator("#reply-body").press("End")
    page.locator("#reply-body").type(" Thanks!")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
    expect(page.locator("article.msg.from-agent").last).to_contain_text("please check the tray")

    # An internal note that mentions Sam.
    press(page, "n")
    page.locator("#note-body").fill("@sam the fuser may need replacing.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status").filter(has_text="Sam Support will be told")).to_be_visible()
    note = page.locator("article.msg-note").last
    expect(note).to_contain_text("Internal note")
    expect(note).to_contain_text("@Sam Support")
    page.screenshot(path=str(SCREENSHOTS / "console_ticket.png"), full_page=True)

    # Merge the duplicate into it.
    page.goto(f"{base}/agent/tickets/{desk.duplicate}")
    page.get_by_label("Merge into ticket").fill(f"#{desk.printer}")
    page.get_by_role("button", name="Merge", exact=True).click()
    expect(page).to_have_url(f"{base}/agent/tickets/{desk.printer}")
    expect(
        page.get_by_role("status").filter(has_text="was merged into this ticket")
    ).to_be_visible()
    expect(page.locator(".thread")).to_contain_text("Still jams, see my other mail.")

    # Search from anywhere with "/".
    press(page, "/")
    expect(page.locator("#quick-q")).to_be_focused()
    page.keyboard.type("VAT rate")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("1 ticket matches")
    result = page.locator(".results li").first
    expect(result).to_contain_text("Invoice question")
    expect(result.locator("mark")).to_have_text(["VAT", "rate"])
    page.screenshot(path=str(SCREENSHOTS / "console_search.png"), full_page=True)


def test_the_shortcut_help_opens_with_a_question_mark(live_server, page, desk):
    sign_in(page, live_server.url, desk.alice)

    press(page, "?")

    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Assign to me")
    press(page, "Escape")
    expect(dialog).to_be_hidden()


def test_two_agents_on_one_ticket_see_each_other_and_a_crossing_reply_is_caught(
    live_server, browser, page, desk
):
    base = live_server.url
    url = f"{base}/agent/tickets/{desk.printer}"
    sign_in(page, base, desk.alice)
    page.goto(url)
    sam_context = browser.new_context()
    try:
        sam = sam_context.new_page()
        sign_in(sam, base, desk.sam)
        sam.goto(url)

        banner = page.locator("#presence")
        expect(banner).to_contain_text("Sam Support is viewing this ticket", timeout=POLL_WAIT_MS)

        sam.locator("#reply-body").type("We are on it, Carol.")
        expect(banner).to_contain_text("Sam Support is writing a reply", timeout=POLL_WAIT_MS)
        expect(sam.locator("#presence")).to_contain_text(
            "Alice Agent is viewing this ticket", timeout=POLL_WAIT_MS
        )

        page.locator("#reply-body").fill("A technician comes on Friday.")
        sam.get_by_role("button", name="Send reply").click()
        expect(sam.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()

        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_role("alert").or_(page.locator(".flash-warning"))).to_contain_text(
            "Someone else replied since you opened this ticket."
        )
        expect(page.locator(".crossed")).to_contain_text("We are on it, Carol.")
        expect(page.locator("#reply-body")).to_have_value("A technician comes on Friday.")
        page.screenshot(path=str(SCREENSHOTS / "console_collision.png"), full_page=True)

        page.get_by_label("I have read the new reply; send mine anyway").check()
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_role("status").filter(has_text="Reply sent.")).to_be_visible()
        replies = page.locator("article.msg.from-agent .body")
        expect(replies).to_have_text(["We are on it, Carol.", "A technician comes on Friday."])
    finally:
        sam_context.close()


def test_queue_and_ticket_fit_a_phone_screen(live_server, phone_page, desk):
    sign_in(phone_page, live_server.url, desk.alice)
    assert phone_page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    phone_page.screenshot(path=str(SCREENSHOTS / "console_queue_phone.png"), full_page=True)

    phone_page.goto(f"{live_server.url}/agent/tickets/{desk.invoice}")

    expect(phone_page.get_by_role("button", name="Send reply")).to_be_visible()
    assert phone_page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    phone_page.screenshot(path=str(SCREENSHOTS / "console_ticket_phone.png"), full_page=True)


@pytest.mark.parametrize("screen", ["page", "phone_page"])
def test_the_console_in_russian_fits_the_screen_and_counts_the_selection(
    live_server, desk, screen, request
):
    page = request.getfixturevalue(screen)
    sign_in(page, live_server.url, desk.alice)

    page.goto(f"{live_server.url}/agent/?lang=ru")
    expect(page.get_by_role("heading", level=1)).to_have_text("Открытые обращения")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.locator(f'tr[data-ticket="{desk.printer}"] input[name="ticket"]').check()
    expect(page.locator("[data-selected-count]")).to_have_text("(выбрано: 1)")

    page.goto(f"{live_server.url}/agent/tickets/{desk.invoice}")
    expect(page.get_by_role("button", name="Отправить ответ")).to_be_visible()
    expect(page.locator(".change-line").first).to_contain_text("изменил(а)")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    page.screenshot(path=str(SCREENSHOTS / f"console_ticket_ru_{screen}.png"), full_page=True)
