"""The customer portal in a real browser: sign up, submit, follow up, switch language, and
what a second customer must not see; on a phone, with the keyboard, and without JavaScript.

Full-page screenshots of the main pages land in test-artifacts/screenshots/portal-*.png.
"""

import re
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import Page, expect

from helpdesk import create_app
from helpdesk.extensions import db
from helpdesk.outbox.runner import run_due
from helpdesk.tickets.links import make_link_token
from helpdesk.validation import Upload
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import PASSWORD, Builder, base_config

pytestmark = pytest.mark.browser


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"portal-{name}.png"), full_page=True)


@pytest.fixture
def mailer(live_server, smtp):
    """Runs the outbox the way a worker does, delivering to the suite's SMTP server; returns a
    function that does it and gives the mails sent to an address."""
    config = live_server.app.config
    worker = create_app(
        {
            **base_config(config["SQLALCHEMY_DATABASE_URI"], config["HELPDESK_STORAGE"]),
            "MAIL_SERVER": smtp.host,
            "MAIL_PORT": smtp.port,
            "MAIL_SUPPRESS_SEND": False,
            "HELPDESK_BASE_URL": live_server.url,
        }
    )
    smtp.clear()

    def deliver(address: str, subject: str):
        with worker.app_context():
            run_due()
            db.session.remove()
        for received in smtp.messages:
            mail = message_from_bytes(received.content, policy=policy.default)
            if address in received.rcpt_tos and subject in mail["Subject"]:
                return mail
        raise AssertionError(f"no mail {subject!r} to {address}")

    yield deliver
    with worker.app_context():
        db.engine.dispose()


def _link_in(mail, prefix: str) -> str:
    text = mail.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"(https?://\S+" + re.escape(prefix) + r"\S+)", text)
    assert match, text
    return match.group(1)


def _sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My requests")


def _ticket_for(live_server, email: str, subject: str, uploads=()) -> tuple[int, str]:
    """A ticket of the customer with this address (made through the services); returns its
    number and the URL path of its first attachment, if any."""
    with live_server.app.app_context():
        from helpdesk.accounts.services import find_user_by_email

        user = find_user_by_email(email)
        ticket = Builder().ticket(requester=user, subject=subject, uploads=list(uploads))
        db.session.commit()
        files = ticket.messages[0].attachments
        path = (
            f"/tickets/{ticket.number}/attachments/{files[0].id}/{files[0].filename}"
            if files
            else ""
        )
        number = ticket.number
        db.session.remove()
        return number, path


def _fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def test_a_customer_signs_up_submits_replies_solves_and_reopens(
    live_server, page, mailer, tmp_path
):
    url = live_server.url
    page.goto(f"{url}/")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create an account")
    page.get_by_label("E-mail address").fill("nora@example.test")
    page.get_by_label("Your name").fill("Nora Newcomer")
    shot(page, "signup")
    page.get_by_role("button", name="Send me the link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your mail")
    expect(page.get_by_text("We have sent a link to nora@example.test.")).to_be_visible()

    mail = mailer("nora@example.test", "Confirm your e-mail address")
    page.goto(_link_in(mail, "/signup/confirm/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Finish your account")
    expect(page.get_by_label("Your name")).to_have_value("Nora Newcomer")
    page.get_by_label("Choose a password").fill(PASSWORD)
    shot(page, "finish-account")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My requests")
    expect(page.get_by_text("Welcome! Your account is ready.")).to_be_visible()
    shot(page, "my-requests-empty")

    page.get_by_role("link", name="New request", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New request")
    expect(page.get_by_text("Up to 10 files, at most 20 MB each.")).to_be_visible()
    page.get_by_label("Subject").fill("Invoice 2024-117 shows the wrong VAT")
    page.get_by_label("Describe your request").fill(
        "The invoice says **19 %** but we are exempt.\n\n- customer no. 4711\n- see attached scan"
    )
    scan = tmp_path / "invoice scan.png"
    scan.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    page.get_by_label("Attachments").set_input_files(str(scan))
    expect(page.get_by_text("invoice scan.png (72 B)")).to_be_visible()  # portal.js lists it
    shot(page, "new-request")
    page.get_by_role("button", name="Send request").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")
    number = page.locator(".big-number strong").inner_text()
    assert re.fullmatch(r"#\d+", number)
    expect(page.get_by_text("Accepted on")).to_be_visible()
    shot(page, "received")

    page.get_by_role("link", name="View the request").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)
    expect(page.locator(".message strong").first).to_have_text("Nora Newcomer")
    expect(page.get_by_text("19 %", exact=False)).to_be_visible()
    attachment = page.get_by_role("link", name="invoice scan.png")
    download = page.request.get(f"{url}{attachment.get_attribute('href')}")
    assert download.status == 200 and download.headers["content-type"] == "image/png"

    page.get_by_label("Your reply").fill("Our VAT id is DE123456789.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Your reply was added.")).to_be_visible()
    expect(page.get_by_text("Our VAT id is DE123456789.")).to_be_visible()

    page.get_by_role("button", name="Mark as solved").click()
    expect(page.get_by_text("Thank you! The request is marked as solved.")).to_be_visible()
    expect(page.locator(".facts .status")).to_have_text("Solved")
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_text("The request is open again.")).to_be_visible()
    expect(page.locator(".facts .status")).to_have_text("In progress")
    shot(page, "ticket")

    page.get_by_role("link", name="My requests").first.click()
    expect(page.get_by_role("link", name=re.compile(re.escape(number)))).to_be_visible()
    shot(page, "my-requests")


def test_the_language_switcher_shows_portuguese_and_russian(live_server, page):
    email = live_server.create_user("customer", name="Lia Lingua")
    _sign_in(page, live_server.url, email)

    page.get_by_role("link", name="Português (Brasil)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Minhas solicitações")
    page.get_by_role("link", name="Nova solicitação").first.click()  # the choice is remembered
    expect(page.get_by_role("heading", level=1)).to_have_text("Nova solicitação")
    expect(page.locator("html")).to_have_attribute("lang", "pt-BR")
    shot(page, "new-request-pt-BR")

    page.get_by_role("link", name="Русский").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Новое обращение")
    page.get_by_label("Тема").fill("")
    page.get_by_role("button", name="Отправить обращение").click()
    expect(page.get_by_text("Укажите тему.").first).to_be_visible()
    shot(page, "new-request-ru-error")

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New request")


def test_a_second_customer_sees_neither_the_ticket_nor_its_file(live_server, page):
    first = live_server.create_user("customer", email="first@example.test", name="First")
    second = live_server.create_user("customer", email="second@example.test", name="Second")
    upload = Upload("contract.pdf", "application/pdf", b"%PDF-1.4 CONFIDENTIAL")
    number, file_path = _ticket_for(live_server, first, "First's contract", [upload])

    _sign_in(page, live_server.url, second)
    expect(page.get_by_text("First's contract")).to_have_count(0)
    response = page.goto(f"{live_server.url}/tickets/{number}")
    assert response.status == 404
    expect(page.get_by_text("First's contract")).to_have_count(0)
    download = page.request.get(f"{live_server.url}{file_path}")
    assert download.status == 404 and b"CONFIDENTIAL" not in download.body()
    shot(page, "not-found")


def test_a_signed_link_opens_the_ticket_without_an_account(live_server, page):
    email = live_server.create_user("customer")
    number, _ = _ticket_for(live_server, email, "Mail-only customer")
    with live_server.app.app_context():
        from helpdesk.accounts.actor import Actor
        from helpdesk.tickets.services import get_ticket

        token = make_link_token(get_ticket(Actor.system(), number))
    page.goto(f"{live_server.url}/t/{token}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Mail-only customer")
    page.get_by_label("Your reply").fill("Replying through the link")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Replying through the link")).to_be_visible()
    shot(page, "signed-link")

    page.goto(f"{live_server.url}/t/{token[:-4]}AAAA")
    expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    shot(page, "invalid-link")


def test_submit_read_and_reply_work_without_javascript(live_server, browser):
    email = live_server.create_user("customer")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, live_server.url, email)
        page.goto(f"{live_server.url}/tickets/new")
        page.get_by_label("Subject").fill("No script here")
        page.get_by_label("Describe your request").fill("Plain old form")
        page.get_by_role("button", name="Send request").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")
        page.get_by_role("link", name="View the request").click()
        page.get_by_label("Your reply").fill("Still no script")
        page.get_by_role("button", name="Send reply").click()
        expect(page.get_by_text("Your reply was added.")).to_be_visible()
        expect(page.get_by_text("Still no script")).to_be_visible()
    finally:
        context.close()


def test_a_request_can_be_sent_with_the_keyboard_alone(live_server, page):
    email = live_server.create_user("customer")
    _sign_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/tickets/new")
    page.get_by_label("Subject").focus()
    page.keyboard.type("Typed, not clicked")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Describe your request")).to_be_focused()
    page.keyboard.type("Every step by keyboard.")
    for _ in range(5):  # past the file field to the button, bounded
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Send request":
            break
    expect(page.get_by_role("button", name="Send request")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, we have your request")


def test_files_can_be_dropped_onto_the_file_field(live_server, page):
    email = live_server.create_user("customer")
    _sign_in(page, live_server.url, email)
    page.goto(f"{live_server.url}/tickets/new")
    page.locator(".dropzone").evaluate(
        """zone => {
            const data = new DataTransfer();
            data.items.add(new File(["hello"], "dropped.txt", {type: "text/plain"}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        }"""
    )
    expect(page.get_by_text("dropped.txt (5 B)")).to_be_visible()
    assert page.get_by_label("Attachments").evaluate("input => input.files.length") == 1
    page.get_by_label("Subject").fill("With a dropped file")
    page.get_by_label("Describe your request").fill("See the file")
    page.get_by_role("button", name="Send request").click()
    page.get_by_role("link", name="View the request").click()
    expect(page.get_by_role("link", name="dropped.txt")).to_be_visible()


def test_the_main_pages_fit_a_phone_screen(live_server, phone_page):
    page = phone_page
    email = live_server.create_user("customer", name="Pat Phone")
    long_subject = "A rather long subject line that must wrap on a narrow phone screen"
    number, _ = _ticket_for(
        live_server, email, long_subject, [Upload("screenshot.png", "image/png", b"\x89PNG")]
    )
    _sign_in(page, live_server.url, email)
    assert _fits_the_screen(page)
    shot(page, "phone-my-requests")
    page.goto(f"{live_server.url}/tickets/{number}")
    expect(page.get_by_role("button", name="Send reply")).to_be_visible()
    assert _fits_the_screen(page)
    shot(page, "phone-ticket")
    page.goto(f"{live_server.url}/tickets/new")
    assert _fits_the_screen(page)
    shot(page, "phone-new-request")
    page.goto(f"{live_server.url}/account")
    assert _fits_the_screen(page)
    shot(page, "phone-account")
    page.goto(f"{live_server.url}/tickets/{number}?lang=ru")  # longer words, same width
    expect(page.get_by_role("button", name="Отправить ответ")).to_be_visible()
    assert _fits_the_screen(page)
    shot(page, "phone-ticket-ru")
