"""Portal test helpers: real SMTP for the account mails, the outbox run on demand, and
ready-made signed-in customers."""

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from helpdesk.extensions import db
from helpdesk.outbox.runner import run_due
from tests.conftest import login, smtp_config


@pytest.fixture
def app_config(app_config, smtp):
    """Every portal test sends its mail to the suite's private SMTP server."""
    return {**app_config, **smtp_config(smtp)}


def deliver() -> int:
    """Run the outbox, as the worker would after the commit; returns how many items ran."""
    return run_due()


def mails_to(smtp, address: str) -> list[EmailMessage]:
    return [
        message_from_bytes(m.content, policy=policy.default)
        for m in smtp.messages
        if address in m.rcpt_tos
    ]


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def html_of(mail: EmailMessage) -> str:
    return mail.get_body(preferencelist=("html",)).get_content()


def link_path(mail: EmailMessage, prefix: str) -> str:
    """The path of the first link in the mail's text that starts with `prefix` (e.g. /t/)."""
    match = re.search(r"https?://[^/\s]+(" + re.escape(prefix) + r"[^\s]*)", text_of(mail))
    assert match, f"no {prefix} link in:\n{text_of(mail)}"
    return match.group(1)


def page(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def signed_in(client, make):
    """A customer, committed and signed in on `client`; returns the User."""

    def sign_in(user=None):
        user = user or make.customer()
        db.session.commit()
        response = login(client, user.email)
        assert response.status_code == 302, page(response)
        return user

    return sign_in
