"""Sign-up with e-mail confirmation, the three sign-up policies, and invitations."""

import time

import pytest
from sqlalchemy import func, select

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import User
from helpdesk.accounts.services import find_user_by_email
from helpdesk.accounts.signup import invite_customer, make_signup_token
from helpdesk.errors import PermissionDenied
from helpdesk.extensions import db
from helpdesk.outbox.models import OutboxItem
from helpdesk.settings import set_setting
from helpdesk.tickets.models import Channel
from tests.conftest import PASSWORD
from tests.portal.conftest import deliver, html_of, link_path, mails_to, page, text_of


def _sign_up(client, email, name="Nora New"):
    return client.post("/signup", data={"email": email, "name": name})


def _confirmation_path(smtp, email) -> str:
    deliver()
    [mail] = [m for m in mails_to(smtp, email) if m["Subject"] == "Confirm your e-mail address"]
    assert "Nora" in html_of(mail)
    return link_path(mail, "/signup/confirm/")


def _outbox_count() -> int:
    return db.session.execute(select(func.count()).select_from(OutboxItem)).scalar_one()


def test_signing_up_mails_a_confirmation_link_and_creates_no_account_yet(client, smtp):
    response = _sign_up(client, "nora@example.test")
    assert response.status_code == 302
    assert "We have sent a link to nora@example.test." in page(client.get(response.location))
    assert find_user_by_email("nora@example.test") is None
    path = _confirmation_path(smtp, "nora@example.test")
    assert find_user_by_email("nora@example.test") is None
    form = page(client.get(path))
    assert "Finish your account" in form and "nora@example.test" in form


def test_confirming_creates_the_account_and_signs_in(client, smtp):
    _sign_up(client, "nora@example.test")
    path = _confirmation_path(smtp, "nora@example.test")
    response = client.post(path, data={"name": "Nora N.", "password": PASSWORD})
    assert response.status_code == 302 and response.location == "/tickets"
    user = find_user_by_email("nora@example.test")
    assert user.name == "Nora N." and user.contact.emails[0].verified
    assert "Welcome! Your account is ready." in page(client.get("/tickets"))


def test_confirmation_makes_earlier_mail_tickets_appear(client, smtp, make):
    from helpdesk.contacts.services import find_or_create_contact

    sender = find_or_create_contact("mailer@example.test", "Mail Sender")
    earlier = make.ticket(requester=sender, subject="Sent by mail", channel=Channel.EMAIL)
    db.session.commit()
    _sign_up(client, "MAILER@example.test")
    path = _confirmation_path(smtp, "mailer@example.test")
    client.post(path, data={"name": "Mail Sender", "password": PASSWORD})
    html = page(client.get("/tickets"))
    assert "Sent by mail" in html and f"#{earlier.number}" in html


def test_a_confirmation_link_works_once(client, smtp):
    _sign_up(client, "nora@example.test")
    path = _confirmation_path(smtp, "nora@example.test")
    client.post(path, data={"password": PASSWORD})
    client.post("/logout")
    again = client.post(path, data={"password": "another password 123"})
    assert again.status_code == 400
    assert "There is already an account for nora@example.test" in page(again)
    assert db.session.execute(select(func.count()).select_from(User)).scalar_one() == 1


def test_a_short_password_is_refused_and_the_name_kept(client, smtp):
    _sign_up(client, "nora@example.test")
    path = _confirmation_path(smtp, "nora@example.test")
    response = client.post(path, data={"name": "Kept Name", "password": "short"})
    assert response.status_code == 400
    assert "The password must have at least 10 characters." in page(response)
    assert 'value="Kept Name"' in page(response)
    assert find_user_by_email("nora@example.test") is None


def test_a_tampered_confirmation_link_is_invalid(client):
    token = make_signup_token("nora@example.test", "Nora")
    response = client.get(f"/signup/confirm/{token[:-2]}xx")
    assert response.status_code == 404 and "This link does not work" in page(response)


def test_an_expired_confirmation_link_is_invalid(client, monkeypatch):
    three_days_ago = time.time() - 3 * 86400
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: three_days_ago)
        token = make_signup_token("nora@example.test", "Nora")
    response = client.post(f"/signup/confirm/{token}", data={"password": PASSWORD})
    assert response.status_code == 404
    assert find_user_by_email("nora@example.test") is None


def test_signing_up_with_a_taken_address_says_the_same_but_mails_a_hint(client, smtp, make):
    existing = make.customer(email="taken@example.test")
    db.session.commit()
    response = _sign_up(client, "taken@example.test")
    assert "We have sent a link to taken@example.test." in page(client.get(response.location))
    deliver()
    [mail] = mails_to(smtp, existing.email)
    assert mail["Subject"] == "You already have an account"
    assert "/reset" in text_of(mail) and "/signup/confirm/" not in text_of(mail)


def test_an_invalid_address_keeps_the_input_and_explains(client):
    response = _sign_up(client, "not-an-address", name="Kept")
    assert response.status_code == 400
    assert "Not a valid e-mail address." in page(response) and 'value="Kept"' in page(response)
    assert _outbox_count() == 0


def test_domain_policy_accepts_client_domains_only(client, smtp, make):
    make.organization("Acme", ["acme.test"])
    set_setting("signup_policy", "domains")
    db.session.commit()
    refused = _sign_up(client, "someone@gmail.test")
    assert refused.status_code == 400
    assert "organizations only" in page(refused)
    assert _outbox_count() == 0
    accepted = _sign_up(client, "ann@acme.test")
    assert accepted.status_code == 302
    path = _confirmation_path(smtp, "ann@acme.test")
    client.post(path, data={"password": PASSWORD})
    assert find_user_by_email("ann@acme.test").contact.organization.name == "Acme"


def test_a_tightened_policy_also_stops_links_already_mailed(client, smtp, make):
    _sign_up(client, "nora@example.test")
    path = _confirmation_path(smtp, "nora@example.test")
    set_setting("signup_policy", "invite")
    db.session.commit()
    response = client.post(path, data={"password": PASSWORD})
    assert response.status_code == 400
    assert find_user_by_email("nora@example.test") is None


def test_invite_policy_closes_the_sign_up_form(client):
    set_setting("signup_policy", "invite")
    db.session.commit()
    html = page(client.get("/signup"))
    assert "by invitation only" in html and 'name="email"' not in html
    client.post("/signup", data={"email": "nora@example.test"})
    assert _outbox_count() == 0


def test_an_invitation_creates_an_account_in_the_organization(client, smtp, make):
    set_setting("signup_policy", "invite")
    acme = make.organization("Acme")
    agent = make.agent(name="Dana Agent")
    invite_customer(Actor.for_user(agent), "guest@example.test", "Gus Guest", organization=acme)
    db.session.commit()
    deliver()
    [mail] = mails_to(smtp, "guest@example.test")
    assert "Dana Agent invites you" in text_of(mail)
    path = link_path(mail, "/invitation/")
    assert 'value="Gus Guest"' in page(client.get(path))
    client.post(path, data={"name": "Gus Guest", "password": PASSWORD})
    user = find_user_by_email("guest@example.test")
    assert user.contact.organization_id == acme.id
    assert client.get("/tickets").status_code == 200


def test_only_agents_invite(make):
    with pytest.raises(PermissionDenied):
        invite_customer(Actor.for_user(make.customer()), "friend@example.test")


def test_signed_in_customers_are_sent_home_from_sign_up(client, signed_in):
    signed_in()
    response = client.get("/signup")
    assert response.status_code == 302 and response.location == "/tickets"
