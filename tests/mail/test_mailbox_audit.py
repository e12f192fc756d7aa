"""Mailbox changes leave an audit row each (added, changed, enabled/disabled, removed) that says
who made them and what changed, and never holds a password, token or client secret."""

import getpass

import pytest
from sqlalchemy import select

from helpdesk.accounts.actor import Actor
from helpdesk.errors import PermissionDenied
from helpdesk.extensions import db
from helpdesk.mail import mailboxes as services
from helpdesk.mail.mailboxes import MailboxAuth, find_mailbox
from helpdesk.tickets.models import AuditEvent

PASSWORD = "Imap-pass 2026/secret"  # noqa: S105
NEW_PASSWORD = "A-new imap pass 2027"  # noqa: S105
REFRESH_TOKEN = "rt-Very-Secret-Refresh-1"  # noqa: S105
CLIENT_SECRET = "oauth-Client-Secret-9"  # noqa: S105
SECRETS = (PASSWORD, NEW_PASSWORD, REFRESH_TOKEN, CLIENT_SECRET)

pytestmark = pytest.mark.usefixtures("app")


def _audits() -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())


def _rows(action: str) -> list[tuple[str | None, str | None]]:
    return [(e.old_value, e.new_value) for e in _audits() if e.action == action]


def _assert_no_secret_in_the_trail() -> None:
    trail = " ".join(f"{e.actor_label} {e.old_value} {e.new_value}" for e in _audits())
    for secret in SECRETS:
        assert secret not in trail


def _add(actor: Actor, secret: str = PASSWORD, **kw):
    imap = services.parse_imap_url("imap://support%40example.test@imap.example.test:143/INBOX")
    mailbox = services.add_mailbox(actor, name="support", imap=imap, secret=secret, **kw)
    db.session.commit()
    return mailbox


def test_adding_a_mailbox_on_the_command_line_is_audited_with_the_shell_account_not_the_secret(
    runner,
):
    url = "imap://support%40example.test:Imap-pass%202026%2Fsecret@imap.example.test/INBOX"

    result = runner.invoke(args=["mailbox", "add", "--name", "support", "--imap-url", url])

    assert result.exit_code == 0, result.output
    (event,) = _audits()
    assert (event.action, event.actor_label, event.actor_user_id) == (
        "mailbox.added",
        f"command line ({getpass.getuser()})",
        None,
    )
    assert event.ticket_id is None and event.old_value is None
    assert event.new_value == (
        "support: imap://support@example.test@imap.example.test:143/INBOX (password)"
    )
    _assert_no_secret_in_the_trail()


def test_an_admin_adding_a_disabled_oauth_mailbox_is_audited_under_their_name(make):
    admin = make.admin(email="ada@desk.test", name="Ada Admin")

    _add(
        Actor.for_user(admin),
        secret=REFRESH_TOKEN,
        auth=MailboxAuth.XOAUTH2,
        oauth_token_url="https://login.example.test/token",
        oauth_client_id="helpdesk-app",
        oauth_client_secret=CLIENT_SECRET,
        enabled=False,
    )

    (event,) = _audits()
    assert event.actor_user_id == admin.id and event.actor_label == "Ada Admin <ada@desk.test>"
    assert event.new_value.endswith("(xoauth2, disabled)")
    _assert_no_secret_in_the_trail()


def test_an_edit_records_which_settings_changed_and_only_names_replaced_secrets():
    mailbox = _add(Actor.system())

    services.edit_mailbox(
        Actor.system(),
        mailbox,
        address="help@example.test",
        processed_folder="Done",
        secret=NEW_PASSWORD,
        oauth_client_secret=CLIENT_SECRET,
    )
    db.session.commit()

    assert _rows("mailbox.changed") == [
        (
            "support: processed_folder=-; address=-",
            "processed_folder=Done; address=help@example.test; "
            "secret replaced; oauth_client_secret replaced",
        )
    ]
    assert find_mailbox("support").secret == NEW_PASSWORD
    _assert_no_secret_in_the_trail()


def test_a_new_imap_url_and_name_are_shown_from_old_to_new():
    mailbox = _add(Actor.system())
    imap = services.parse_imap_url("imaps://support%40example.test@mail.example.test/Support")

    services.edit_mailbox(Actor.system(), mailbox, name="help", imap=imap)
    db.session.commit()

    assert _rows("mailbox.changed") == [
        (
            "support: name=support; imap_url=imap://support@example.test@imap.example.test:143/INBOX",
            "name=help; imap_url=imaps://support@example.test@mail.example.test:993/Support",
        )
    ]


def test_disabling_and_enabling_are_audited_as_such_and_not_as_a_change():
    mailbox = _add(Actor.system())

    services.edit_mailbox(Actor.system(), mailbox, enabled=False)
    services.edit_mailbox(Actor.system(), mailbox, enabled=True)
    db.session.commit()

    actions = [(e.action, e.new_value) for e in _audits()][1:]
    assert actions == [("mailbox.disabled", "support"), ("mailbox.enabled", "support")]


def test_saving_unchanged_settings_writes_no_audit_row():
    mailbox = _add(Actor.system())
    imap = services.parse_imap_url("imap://support%40example.test@imap.example.test:143/INBOX")

    services.edit_mailbox(Actor.system(), mailbox, imap=imap, address=None, enabled=True)
    db.session.commit()

    assert [e.action for e in _audits()] == ["mailbox.added"]


def test_removing_a_mailbox_is_audited_with_what_it_was():
    mailbox = _add(Actor.system())

    services.remove_mailbox(Actor.system(), mailbox)
    db.session.commit()

    assert _rows("mailbox.removed") == [
        ("support: imap://support@example.test@imap.example.test:143/INBOX", None)
    ]
    assert find_mailbox("support") is None


def test_an_agent_who_is_not_an_admin_changes_nothing_and_leaves_no_row(make):
    mailbox = _add(Actor.system())
    agent = Actor.for_user(make.agent(email="al@desk.test"))

    with pytest.raises(PermissionDenied):
        services.edit_mailbox(agent, mailbox, address="evil@example.test")
    with pytest.raises(PermissionDenied):
        services.remove_mailbox(agent, mailbox)

    db.session.rollback()
    assert [e.action for e in _audits()] == ["mailbox.added"]
    assert find_mailbox("support").address is None
