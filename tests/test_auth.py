"""Signing in and out for every role, and the limits and protections around it."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask_login import login_user

from helpdesk.accounts.auth import current_actor
from helpdesk.accounts.services import FAILED_LOGIN_WINDOW, MAX_FAILED_LOGINS
from helpdesk.config import load_config
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow
from tests.conftest import PASSWORD, login

WRONG = "Wrong e-mail address or password."


@pytest.fixture
def app_config(app_config, request, monkeypatch):
    """The shared config, plus what a test asks for with `with_config`."""
    overrides = dict(getattr(request, "param", {}))
    for name, value in overrides.pop("environ", {}).items():
        monkeypatch.setenv(name, value)  # read by create_app, like a real deployment's
    app_config.update(overrides)
    return app_config


def with_config(**overrides):
    """Build this test's app with these config entries (`environ`: environment variables)."""
    return pytest.mark.parametrize("app_config", [overrides], indirect=True, ids=["config"])


def _path(response) -> str:
    return urlsplit(response.headers["Location"]).path


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _login_with_token(client, email, password=PASSWORD, **extra):
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    data = {"email": email, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=data)


def _cookie_header(response, name: str) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}="))


def _fresh(user):
    """The user as stored now (the requests committed in their own sessions)."""
    db.session.rollback()
    return db.session.get(type(user), user.id)


@pytest.mark.parametrize(
    ("role", "home", "heading"),
    [
        ("customer", "/tickets", "My requests"),
        ("agent", "/agent/", "Open tickets"),
        ("admin", "/agent/", "Open tickets"),
    ],
)
def test_each_role_signs_in_and_lands_on_its_home(client, make, role, home, heading):
    user = make.user(role, name=f"Pat {role.title()}")
    db.session.commit()

    response = login(client, user.email)

    assert response.status_code == 302
    assert _path(response) == home
    page = client.get(home)
    assert page.status_code == 200
    assert heading in page.get_data(as_text=True)
    assert f"Pat {role.title()}" in page.get_data(as_text=True)


def test_signing_in_during_a_request_replaces_the_anonymous_actor(app, make):
    user = make.agent()
    with app.test_request_context("/login"):
        assert current_actor() is None

        login_user(user)

        assert current_actor().user is user and current_actor().is_staff


def test_sign_in_accepts_the_address_in_any_case_and_with_spaces(client, make):
    user = make.customer(email="mixed@example.test")
    db.session.commit()

    assert login(client, "  Mixed@Example.TEST ").status_code == 302
    assert client.get("/tickets").status_code == 200
    assert _fresh(user).last_login_at is not None


@with_config(WTF_CSRF_ENABLED=True)
def test_sign_out_is_a_post_with_csrf_and_ends_the_session(client, make):
    user = make.customer()
    db.session.commit()
    assert _login_with_token(client, user.email).status_code == 302
    page = client.get("/tickets").get_data(as_text=True)

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/tickets").status_code == 200, "a forged sign-out must not end the session"

    response = client.post("/logout", data={"csrf_token": _csrf_token(page)})

    assert response.status_code == 302 and _path(response) == "/login"
    assert "You are signed out." in client.get("/login").get_data(as_text=True)
    after = client.get("/tickets")
    assert after.status_code == 302 and _path(after) == "/login"


def test_wrong_password_answers_401_without_telling_whether_the_account_exists(client, make):
    make.customer(email="known@example.test")
    db.session.commit()

    wrong_password = login(client, "known@example.test", "not the password")
    unknown_account = login(client, "nobody@example.test", "not the password")

    assert wrong_password.status_code == unknown_account.status_code == 401
    assert WRONG in wrong_password.get_data(as_text=True)
    same = [
        r.get_data(as_text=True).replace(address, "ADDRESS")
        for r, address in [(wrong_password, "known@"), (unknown_account, "nobody@")]
    ]
    assert same[0] == same[1]
    assert client.get("/tickets").status_code == 302


def test_empty_form_answers_400_and_names_the_missing_fields(client):
    response = client.post("/login", data={"email": "", "password": ""})

    assert response.status_code == 400
    assert response.get_data(as_text=True).count("This field is required.") == 2


def test_account_locks_after_five_wrong_passwords_until_the_window_has_passed(client, make):
    user = make.customer()
    bystander = make.customer()
    db.session.commit()
    for _ in range(MAX_FAILED_LOGINS):
        assert login(client, user.email, "not the password").status_code == 401

    locked = login(client, user.email)  # the right password, too late

    assert locked.status_code == 429
    text = locked.get_data(as_text=True)
    assert "Too many failed sign-in attempts. Try again in 15 minutes" in text
    assert 0 < int(locked.headers["Retry-After"]) <= FAILED_LOGIN_WINDOW.total_seconds() + 1
    assert client.get("/tickets").status_code == 302
    assert login(client, bystander.email).status_code == 302, "the lock is per account"
    client.post("/logout")

    stored = _fresh(user)
    stored.failed_login_at = utcnow() - FAILED_LOGIN_WINDOW - timedelta(seconds=1)
    db.session.commit()

    assert login(client, user.email).status_code == 302
    assert client.get("/tickets").status_code == 200
    assert _fresh(user).failed_logins == 0


def test_a_right_password_before_the_fifth_failure_resets_the_count(client, make):
    user = make.customer()
    db.session.commit()
    for _ in range(MAX_FAILED_LOGINS - 1):
        login(client, user.email, "not the password")
    assert login(client, user.email).status_code == 302
    client.post("/logout")

    for _ in range(MAX_FAILED_LOGINS - 1):
        assert login(client, user.email, "not the password").status_code == 401
    assert login(client, user.email).status_code == 302


@with_config(RATELIMIT_ENABLED=True, HELPDESK_LOGIN_RATE_LIMIT="3 per minute")
def test_too_many_sign_ins_from_one_address_answer_429_with_retry_after(client, make):
    user = make.customer()
    db.session.commit()
    for _ in range(3):
        assert login(client, user.email, "not the password").status_code == 401

    response = login(client, user.email)

    assert response.status_code == 429
    assert "Too many sign-in attempts from your network" in response.get_data(as_text=True)
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert client.get("/login").status_code == 200, "only sign-in attempts are limited"


def test_passwords_are_stored_as_argon2id_hashes(make):
    user = make.customer()

    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_session_cookie_is_http_only_and_same_site_lax(client, make):
    user = make.customer()
    db.session.commit()

    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "remember": "y"}
    )

    for name in ("session", "remember_token"):
        cookie = _cookie_header(response, name)
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie, "plain http on a local run: Secure would lose the cookie"


@with_config(environ={"HELPDESK_BASE_URL": "https://help.example.test"})
def test_session_cookie_is_secure_when_the_site_is_served_over_https(client, make):
    user = make.customer()
    db.session.commit()

    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "remember": "y"}
    )

    assert response.status_code == 302
    for name in ("session", "remember_token"):
        cookie = _cookie_header(response, name)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_cookie_settings_follow_the_base_url_scheme(monkeypatch, tmp_path):
    monkeypatch.setenv("HELPDESK_BASE_URL", "https://help.example.test/")
    secure = load_config(str(tmp_path))
    monkeypatch.setenv("HELPDESK_BASE_URL", "http://127.0.0.1:5000")
    plain = load_config(str(tmp_path))

    assert secure["SESSION_COOKIE_SECURE"] and secure["REMEMBER_COOKIE_SECURE"]
    assert not plain["SESSION_COOKIE_SECURE"] and not plain["REMEMBER_COOKIE_SECURE"]
    assert secure["HELPDESK_BASE_URL"] == "https://help.example.test"


@with_config(WTF_CSRF_ENABLED=True)
def test_login_without_csrf_token_shows_the_form_expired_page(client, make):
    user = make.customer()
    db.session.commit()

    response = client.post("/login", data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "The form expired" in text and "reload it and try again" in text
    assert client.get("/tickets").status_code == 302
    assert _login_with_token(client, user.email).status_code == 302


@pytest.mark.parametrize("target", ["/tickets?status=open", "/agent/tickets/7"])
def test_next_sends_a_signed_in_user_to_a_page_on_this_site(client, make, target):
    user = make.admin()
    db.session.commit()

    response = client.post(
        f"/login?next={target}", data={"email": user.email, "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "/\t/evil.example",
        "javascript:alert(1)",
        "tickets",
    ],
)
def test_next_pointing_off_site_is_ignored(client, make, target):
    user = make.customer()
    db.session.commit()

    response = client.post(
        "/login",
        query_string={"next": target},
        data={
            "email": user.email,
            "password": PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/tickets"


def test_anonymous_visitor_is_sent_to_login_and_back_afterwards(client, make):
    user = make.customer()
    db.session.commit()

    for path in ("/tickets", "/agent/"):
        response = client.get(path)
        assert response.status_code == 302 and _path(response) == "/login"

    to_login = client.get("/tickets").headers["Location"]
    back = client.post(to_login, data={"email": user.email, "password": PASSWORD})
    assert back.headers["Location"] == "/tickets"


def test_disabled_user_cannot_sign_in(client, make):
    user = make.agent(active=False)
    db.session.commit()

    response = login(client, user.email)

    assert response.status_code == 401
    assert "This account is disabled." in response.get_data(as_text=True)
    assert client.get("/agent/").status_code == 302


def test_disabling_a_signed_in_user_ends_their_session(client, make):
    user = make.agent()
    db.session.commit()
    assert login(client, user.email).status_code == 302
    assert client.get("/agent/").status_code == 200

    _fresh(user).active = False
    db.session.commit()

    response = client.get("/agent/")
    assert response.status_code == 302 and _path(response) == "/login"


def test_customer_gets_404_in_the_agent_console(client, make):
    user = make.customer()
    db.session.commit()
    login(client, user.email)

    assert client.get("/agent/").status_code == 404
    assert client.get("/tickets").status_code == 200


def test_signed_in_user_visiting_login_goes_home(client, make):
    user = make.agent()
    db.session.commit()
    login(client, user.email)

    response = client.get("/login")

    assert response.status_code == 302 and _path(response) == "/agent/"
