"""Changing the password from the account page: the current one first, the new one twice, the
usual strength limits; every other session ends, and a notice goes to the user by mail."""

import re

import pytest

from helpdesk.accounts.services import authenticate
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from tests.conftest import PASSWORD, login
from tests.portal.conftest import deliver, link_path, mails_to, page, text_of

NEW = "a much better password"


@pytest.fixture
def app_config(app_config, request):
    """The portal tests' config, plus what a test asks for by parametrizing it."""
    return {**app_config, **getattr(request, "param", {})}


def _change(client, current=PASSWORD, new=NEW, again=None, **kwargs):
    data = {"current_password": current, "new_password": new, "confirm_password": again or new}
    return client.post("/account/password", data=data, **kwargs)


def _password_works(email: str, password: str) -> bool:
    db.session.rollback()  # read what the requests committed
    try:
        authenticate(email, password)
    except ValidationError:
        return False
    finally:
        db.session.rollback()  # nothing of the check itself is kept
    return True


def test_the_account_page_links_to_the_change_form(client, signed_in):
    signed_in()
    account = page(client.get("/account"))
    assert 'href="/account/password"' in account
    form = page(client.get("/account/password"))
    assert "Current password" in form and "New password, again" in form
    assert 'autocomplete="current-password"' in form and 'maxlength="1000"' in form


def test_the_right_current_password_changes_it(client, signed_in):
    user = signed_in()

    response = _change(client)

    assert response.status_code == 302 and response.location == "/account"
    assert "Your password is changed. Other devices are signed out." in page(client.get("/account"))
    assert _password_works(user.email, NEW)
    assert not _password_works(user.email, PASSWORD)


def test_a_wrong_current_password_changes_nothing(client, signed_in):
    user = signed_in()

    response = _change(client, current="not my password")

    assert response.status_code == 400
    assert "Your current password is not right." in page(response)
    assert _password_works(user.email, PASSWORD)


@pytest.mark.parametrize(
    ("new", "again", "message"),
    [
        ("short", "short", "At least 10 characters."),
        ("x" * 1001, "x" * 1001, "Too long."),
        (NEW, NEW + "!", "The two new passwords are not the same."),
    ],
    ids=["too-short", "too-long", "mismatch"],
)
def test_a_weak_or_mistyped_new_password_is_refused(client, signed_in, new, again, message):
    user = signed_in()

    response = _change(client, new=new, again=again)

    assert response.status_code == 400 and message in page(response)
    assert _password_works(user.email, PASSWORD)


def test_other_sessions_end_and_this_one_stays(app, client, signed_in):
    user = signed_in()
    laptop = app.test_client()
    assert login(laptop, user.email).status_code == 302
    assert laptop.get("/tickets").status_code == 200

    _change(client)

    assert client.get("/tickets").status_code == 200
    elsewhere = laptop.get("/tickets")
    assert elsewhere.status_code == 302 and elsewhere.location.startswith("/login")


def test_a_remembered_browser_is_signed_out_too(app, client, signed_in):
    user = signed_in()
    phone = app.test_client()
    phone.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})
    assert phone.get_cookie("remember_token") is not None
    phone.delete_cookie("session")  # the browser restarted: only the remember-me cookie is left
    assert phone.get("/tickets").status_code == 200, "the cookie alone signs in before the change"
    phone.delete_cookie("session")

    _change(client)

    assert phone.get("/tickets").status_code == 302


def test_this_browsers_remember_me_cookie_follows_the_new_password(app, client, make):
    user = make.customer()
    db.session.commit()
    client.post("/login", data={"email": user.email, "password": PASSWORD, "remember": "y"})

    _change(client)
    client.delete_cookie("session")

    assert client.get("/tickets").status_code == 200


def test_a_reset_by_mail_signs_out_other_sessions_as_well(app, client, smtp, signed_in):
    user = signed_in()
    client.post("/reset", data={"email": user.email})
    deliver()
    [mail] = [m for m in mails_to(smtp, user.email) if m["Subject"] == "Reset your password"]
    other = app.test_client()

    other.post(link_path(mail, "/reset/"), data={"password": NEW})

    assert other.get("/tickets").status_code == 200
    assert client.get("/tickets").status_code == 302


def test_a_notice_mail_tells_the_user_in_their_language(client, smtp, make):
    user = make.customer(email="olga@example.test")
    user.locale = "ru"
    db.session.commit()
    login(client, user.email)

    _change(client)
    deliver()

    [notice] = [m for m in mails_to(smtp, user.email) if m["Subject"] == "Ваш пароль изменён"]
    assert "только что был изменён" in text_of(notice)
    assert link_path(notice, "/reset") == "/reset"


def test_a_failed_change_sends_no_notice(client, smtp, signed_in):
    user = signed_in()

    _change(client, current="wrong password")
    deliver()

    assert [m for m in mails_to(smtp, user.email) if "password" in m["Subject"].lower()] == []


def test_the_page_needs_a_signed_in_user(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert _change(client).status_code == 302


@pytest.mark.parametrize(
    "app_config",
    [{"RATELIMIT_ENABLED": True, "HELPDESK_RESET_RATE_LIMIT": "2 per hour"}],
    indirect=True,
)
def test_guessing_the_current_password_is_rate_limited(client, signed_in):
    user = signed_in()

    statuses = [_change(client, current=f"guess {i}").status_code for i in range(3)]

    assert statuses == [400, 400, 429]
    assert _password_works(user.email, PASSWORD)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_a_forged_change_without_the_csrf_token_is_refused(client, make):
    user = make.customer()
    db.session.commit()

    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page(client.get("/login"))).group(1)
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})

    assert _change(client).status_code == 400
    assert _password_works(user.email, PASSWORD)
