from sqlalchemy import select

from helpdesk.accounts.models import ApiToken, Role, User
from helpdesk.accounts.services import user_for_token
from helpdesk.extensions import db


def test_users_create_makes_a_user_who_can_sign_in(runner, client):
    result = runner.invoke(
        args=["users", "create", "--email", "Ana@Example.com", "--password", "long enough pw",
              "--role", "agent", "--name", "Ana Silva"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Created agent ana@example.com" in result.output
    user = db.session.execute(select(User).where(User.email == "ana@example.com")).scalar_one()
    assert user.role == Role.AGENT and user.name == "Ana Silva"
    response = client.post(
        "/login", data={"email": "ana@example.com", "password": "long enough pw"}
    )
    assert response.headers["Location"].endswith("/agent/")


def test_users_create_customer_joins_the_named_organization(runner):
    result = runner.invoke(
        args=["users", "create", "--email", "c@acme.example", "--password", "long enough pw",
              "--organization", "Acme"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = db.session.execute(select(User).where(User.email == "c@acme.example")).scalar_one()
    assert user.contact.organization.name == "Acme"


def test_users_create_refuses_bad_input_with_a_clear_message(runner):
    short = runner.invoke(args=["users", "create", "--email", "a@b.example", "--password", "short"])
    assert short.exit_code == 1
    assert "at least 10 characters" in short.output
    bad = runner.invoke(
        args=["users", "create", "--email", "not-an-address", "--password", "x" * 12]
    )
    assert bad.exit_code == 1 and "not a valid e-mail address" in bad.output
    ok = runner.invoke(args=["users", "create", "--email", "a@b.example", "--password", "x" * 12])
    assert ok.exit_code == 0
    again = runner.invoke(
        args=["users", "create", "--email", "A@b.example", "--password", "x" * 12]
    )
    assert again.exit_code == 1 and "exists already" in again.output
    assert "Traceback" not in short.output + bad.output + again.output


def test_users_token_prints_a_working_token_stored_only_as_a_hash(runner, make):
    user = make.agent(email="tok@example.test")
    db.session.commit()
    result = runner.invoke(args=["users", "token", "--email", "tok@example.test"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("hd_") and len(token) > 30
    assert user_for_token(token).id == user.id
    stored = db.session.execute(select(ApiToken.token_hash)).scalar_one()
    assert token not in stored


def test_users_token_for_unknown_user_fails_clearly(runner):
    result = runner.invoke(args=["users", "token", "--email", "nobody@example.test"])
    assert result.exit_code == 1
    assert "no user with the address nobody@example.test" in result.output
