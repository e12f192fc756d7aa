"""Password reset by e-mail: the same answer for every address, single-use links."""

import time

from helpdesk.accounts.services import authenticate
from helpdesk.accounts.signup import make_reset_token
from helpdesk.extensions import db
from tests.portal.conftest import deliver, link_path, mails_to, page

NEW_PASSWORD = "a brand new password"


def _request(client, email):
    return client.post("/reset", data={"email": email})


def _reset_path(smtp, email) -> str:
    deliver()
    [mail] = mails_to(smtp, email)
    assert mail["Subject"] == "Reset your password"
    return link_path(mail, "/reset/")


def test_a_reset_link_is_mailed_to_an_account(client, smtp, make):
    user = make.customer(email="ann@example.test")
    db.session.commit()
    response = _request(client, "ann@example.test")
    assert response.status_code == 302
    assert "If ann@example.test has an account" in page(client.get(response.location))
    assert _reset_path(smtp, user.email).startswith("/reset/")


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, smtp):
    response = _request(client, "nobody@example.test")
    assert response.status_code == 302
    assert "If nobody@example.test has an account" in page(client.get(response.location))
    assert deliver() == 0 and smtp.messages == []


def test_the_link_sets_a_new_password_and_signs_in(client, smtp, make):
    user = make.customer(email="ann@example.test")
    db.session.commit()
    _request(client, user.email)
    path = _reset_path(smtp, user.email)
    assert "Choose a new password" in page(client.get(path))
    response = client.post(path, data={"password": NEW_PASSWORD})
    assert response.status_code == 302 and response.location == "/tickets"
    assert authenticate(user.email, NEW_PASSWORD).id == user.id
    assert "Your password is changed." in page(client.get("/tickets"))


def test_a_reset_link_works_only_once(client, smtp, make):
    user = make.customer(email="ann@example.test")
    db.session.commit()
    _request(client, user.email)
    path = _reset_path(smtp, user.email)
    client.post(path, data={"password": NEW_PASSWORD})
    client.post("/logout")
    again = client.post(path, data={"password": "attacker's password 1"})
    assert again.status_code == 404 and "This link does not work" in page(again)
    assert authenticate(user.email, NEW_PASSWORD).id == user.id


def test_an_older_link_dies_when_the_password_changes_another_way(client, make):
    user = make.customer()
    token = make_reset_token(user)
    from helpdesk.accounts.services import set_password

    set_password(user, "changed elsewhere 123")
    db.session.commit()
    assert client.get(f"/reset/{token}").status_code == 404


def test_an_expired_reset_link_is_invalid(client, make, monkeypatch):
    user = make.customer()
    three_hours_ago = time.time() - 3 * 3600
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: three_hours_ago)
        token = make_reset_token(user)
    db.session.commit()
    assert client.get(f"/reset/{token}").status_code == 404


def test_a_disabled_account_gets_no_reset(client, smtp, make):
    make.customer(email="gone@example.test", active=False)
    db.session.commit()
    _request(client, "gone@example.test")
    assert deliver() == 0


def test_a_short_new_password_is_refused(client, make):
    user = make.customer()
    token = make_reset_token(user)
    db.session.commit()
    response = client.post(f"/reset/{token}", data={"password": "short"})
    assert response.status_code == 400
    assert "at least 10 characters" in page(response)
