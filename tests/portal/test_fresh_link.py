"""A dead signed link (expired or revoked) offers to mail a fresh one, only to the ticket's own
addresses, with the same answer for any address."""

import re
import time

import pytest

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.settings import set_setting
from helpdesk.tickets.links import make_link_token, revoke_links
from tests.portal.conftest import deliver, link_path, mails_to, page, text_of

INVALID = "This link does not work"
OFFER = "Send me a fresh link"
SENT = "we have sent a fresh link to it"
FRESH = "A fresh link to your request"


@pytest.fixture
def app_config(app_config, request):
    """The portal tests' config, plus what a test asks for by parametrizing it."""
    return {**app_config, **getattr(request, "param", {})}


def _expired_token(ticket, monkeypatch) -> str:
    set_setting("link_days", 30)
    with monkeypatch.context() as past:
        long_ago = time.time() - 31 * 86400
        past.setattr(time, "time", lambda: long_ago)
        token = make_link_token(ticket)
    db.session.commit()
    deliver()  # the ticket's own mails (acknowledgement, notices) leave first
    return token


def _fresh_mails(smtp, address: str) -> list:
    """The fresh-link mails to `address`, after running the outbox."""
    deliver()
    titles = (FRESH, "Новая ссылка на ваше обращение")
    return [m for m in mails_to(smtp, address) if m["Subject"] in titles]


def _all_fresh_mails(smtp) -> int:
    deliver()
    return sum(FRESH in m.content.decode(errors="replace") for m in smtp.messages)


def _ask(client, token, email, **kwargs):
    return client.post(f"/t/{token}/fresh", data={"email": email}, **kwargs)


def test_an_expired_link_offers_a_fresh_one_without_showing_the_ticket(client, make, monkeypatch):
    ticket = make.ticket(subject="Secret merger plans")
    token = _expired_token(ticket, monkeypatch)

    response = client.get(f"/t/{token}")

    assert response.status_code == 404
    html = page(response)
    assert INVALID in html and OFFER in html
    assert f'action="/t/{token}/fresh"' in html
    assert "Secret merger plans" not in html and f"#{ticket.number}" not in html


def test_a_tampered_link_offers_nothing(client, smtp, make):
    token = make_link_token(make.ticket())
    db.session.commit()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    response = client.get(f"/t/{forged}")

    assert response.status_code == 404 and INVALID in page(response)
    assert OFFER not in page(response)
    assert _ask(client, forged, "anyone@example.test").status_code == 404
    assert _all_fresh_mails(smtp) == 0


def test_the_requester_gets_a_fresh_link_that_opens_the_ticket(client, smtp, make, monkeypatch):
    customer = make.customer(email="ann@example.test")
    ticket = make.ticket(requester=customer, subject="Router on fire")
    token = _expired_token(ticket, monkeypatch)

    response = _ask(client, token, "  Ann@Example.TEST ")

    assert response.status_code == 302
    assert SENT in page(client.get(response.location))
    [mail] = _fresh_mails(smtp, "ann@example.test")
    assert f"#{ticket.number}" in text_of(mail) and "Router on fire" in text_of(mail)
    opened = client.get(link_path(mail, "/t/"))
    assert opened.status_code == 200 and "Router on fire" in page(opened)


def test_a_revoked_link_gets_a_fresh_one_that_works_after_the_revocation(client, smtp, make):
    agent = make.agent()
    ticket = make.ticket(requester=make.customer(email="bo@example.test"))
    token = make_link_token(ticket)
    revoke_links(ticket, Actor.for_user(agent))
    db.session.commit()
    assert OFFER in page(client.get(f"/t/{token}"))

    _ask(client, token, "bo@example.test")

    [mail] = _fresh_mails(smtp, "bo@example.test")
    assert client.get(link_path(mail, "/t/")).status_code == 200
    assert client.get(f"/t/{token}").status_code == 404


def test_a_participant_in_copy_gets_a_fresh_link_too(client, smtp, make, monkeypatch):
    ticket = make.ticket()
    from helpdesk.tickets.services import add_participant

    add_participant(ticket, Actor.system(), email="cc@example.test")
    token = _expired_token(ticket, monkeypatch)

    assert _ask(client, token, "cc@example.test").status_code == 302
    assert len(_fresh_mails(smtp, "cc@example.test")) == 1


def test_any_other_address_gets_the_same_answer_and_no_mail(client, smtp, make, monkeypatch):
    ticket = make.ticket(requester=make.customer(email="owner@example.test"))
    make.customer(email="stranger@example.test")  # an account elsewhere changes nothing
    token = _expired_token(ticket, monkeypatch)

    owner = _ask(client, token, "owner@example.test")
    owner_page = page(client.get(owner.location))
    stranger = _ask(client, token, "stranger@example.test")
    stranger_page = page(client.get(stranger.location))

    assert owner.status_code == stranger.status_code == 302
    assert owner.location == stranger.location
    assert owner_page.replace("owner@", "X@") == stranger_page.replace("stranger@", "X@")
    assert len(_fresh_mails(smtp, "owner@example.test")) == 1
    assert _all_fresh_mails(smtp) == 1


def test_a_malformed_address_comes_back_with_the_input_and_a_message(
    client, smtp, make, monkeypatch
):
    token = _expired_token(make.ticket(), monkeypatch)

    response = _ask(client, token, "not an address")

    assert response.status_code == 400
    html = page(response)
    assert 'value="not an address"' in html
    assert "Not a valid e-mail address." in html
    assert _all_fresh_mails(smtp) == 0


def test_the_form_and_the_mail_speak_the_customers_language(client, smtp, make, monkeypatch):
    ticket = make.ticket(requester=make.customer(email="ivan@example.test"))
    token = _expired_token(ticket, monkeypatch)
    russian = {"Accept-Language": "ru"}

    assert "Прислать новую ссылку" in page(client.get(f"/t/{token}", headers=russian))
    _ask(client, token, "ivan@example.test", headers=russian)

    [mail] = _fresh_mails(smtp, "ivan@example.test")
    assert mail["Subject"] == "Новая ссылка на ваше обращение"
    assert "вот новая ссылка на ваше обращение" in text_of(mail)


def test_the_not_solved_page_of_an_expired_link_offers_a_fresh_one(client, make, monkeypatch):
    token = _expired_token(make.ticket(), monkeypatch)

    response = client.get(f"/not-solved/{token}")

    assert response.status_code == 404
    assert OFFER in page(response) and f'action="/t/{token}/fresh"' in page(response)


@pytest.mark.parametrize(
    "app_config",
    [{"RATELIMIT_ENABLED": True, "HELPDESK_RESET_RATE_LIMIT": "2 per hour"}],
    indirect=True,
)
def test_asking_is_rate_limited_per_address_and_per_link(client, make, monkeypatch):
    token = _expired_token(make.ticket(), monkeypatch)

    def status(email, ip):
        return _ask(client, token, email, environ_base={"REMOTE_ADDR": ip}).status_code

    assert [status("a@example.test", ip) for ip in ("10.0.0.1", "10.0.0.2")] == [302, 302]
    assert status("a@example.test", "10.0.0.3") == 429
    assert status("b@example.test", "10.0.0.4") == 429  # the same link from anywhere


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_the_form_needs_its_csrf_token(client, smtp, make, monkeypatch):
    ticket = make.ticket(requester=make.customer(email="csrf@example.test"))
    token = _expired_token(ticket, monkeypatch)
    html = page(client.get(f"/t/{token}"))
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)

    assert _ask(client, token, "csrf@example.test").status_code == 400
    assert _fresh_mails(smtp, "csrf@example.test") == []
    ok = client.post(f"/t/{token}/fresh", data={"email": "csrf@example.test", "csrf_token": csrf})
    assert ok.status_code == 302
    assert len(_fresh_mails(smtp, "csrf@example.test")) == 1
