"""In a real browser, on a phone: a reply that was not delivered shows why, the reply box warns
about a bouncing address, "Send again" queues it, and the outgoing-mail page lists it."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from helpdesk.accounts.actor import Actor
from helpdesk.contacts.models import ContactEmail
from helpdesk.extensions import db
from helpdesk.outbox.runner import run_due
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel
from tests.conftest import PASSWORD, Builder

pytestmark = pytest.mark.browser


@pytest.fixture
def failed_reply(live_server) -> tuple[str, int, int]:
    """An agent's reply that failed for good (the live server has no mail server configured),
    to a requester whose address is marked as bouncing."""
    with live_server.app.app_context():
        make = Builder()
        support = make.team("Support")
        alice = make.agent(email="alice@desk.test", name="Alice Agent", teams=[support])
        carol = make.customer(email="carol@client.example", name="Carol Customer")
        ticket = make.ticket(carol, subject="Parcel never arrived", team=support)
        message = services.add_reply(
            ticket, Actor.for_user(alice), body="A new parcel is on its way.", channel=Channel.AGENT
        )
        db.session.execute(
            update(ContactEmail)
            .where(ContactEmail.email == "carol@client.example")
            .values(bouncing=True)
        )
        db.session.commit()
        while run_due():
            pass
        db.session.commit()
        return alice.email, ticket.number, message.id


def test_an_agent_sees_a_failed_reply_and_sends_it_again_on_a_phone(
    live_server, phone_page, failed_reply
):
    page, base = phone_page, live_server.url
    email, number, message_id = failed_reply
    page.goto(f"{base}/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{base}/agent/tickets/{number}")
    reply = page.locator(f"#m{message_id}")
    expect(reply.get_by_text("Not delivered.")).to_be_visible()
    expect(reply).to_contain_text("No mail server is configured")
    warning = page.locator("#reply .bounce-warning")
    expect(warning).to_contain_text("carol@client.example")
    expect(warning).to_contain_text("Your reply is still sent")

    page.get_by_role("link", name="Outgoing mail").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outgoing mail")
    listed = page.locator(f'.outgoing a[href$="#m{message_id}"]')  # the reply (and the receipt)
    expect(listed).to_have_text(f"#{number} Parcel never arrived")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing sticks out sideways on a phone

    page.goto(f"{base}/agent/tickets/{number}")
    reply.get_by_role("button", name="Send again").click()  # a real form, with its CSRF token

    expect(page.get_by_text("The reply is being sent again (1 mail).")).to_be_visible()
    expect(reply.get_by_text("Sending by e-mail…")).to_be_visible()
    expect(reply.get_by_role("button", name="Send again")).to_have_count(0)
