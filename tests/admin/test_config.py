"""The business's configuration pages: settings, canned responses, blocked senders and the
change log, each change audited and each visible where customers and agents meet it."""

from email.message import EmailMessage

import pytest
from sqlalchemy import select

from helpdesk.accounts.actor import Actor
from helpdesk.audit import VALUE_MAX
from helpdesk.errors import PermissionDenied
from helpdesk.extensions import db
from helpdesk.mail import ingest
from helpdesk.mail.models import Outcome
from helpdesk.outbox.models import OutboxItem
from helpdesk.settings import change_setting, get_setting
from helpdesk.tickets.blocklist import BlockedSender, block_sender
from helpdesk.tickets.canned import canned_for
from helpdesk.tickets.console_models import CannedResponse
from helpdesk.tickets.models import AuditEvent, Ticket
from tests.conftest import login

SUPPORT = "support@help.example"


@pytest.fixture
def app_config(app_config):
    app_config["HELPDESK_SUPPORT_ADDRESS"] = SUPPORT
    app_config["HELPDESK_NAME"] = "Configured Desk"
    return app_config


@pytest.fixture
def people(app, make):
    support = make.team("Support")
    admin = make.admin(email="admin@desk.test", name="Ada Admin")
    agent = make.agent(email="alice@desk.test", name="Alice Agent", teams=[support])
    customer = make.customer(email="carol@example.com", name="Carol Customer")
    db.session.commit()
    return {"admin": admin, "agent": agent, "customer": customer, "support": support}


def _client(app, user):
    client = app.test_client()
    login(client, user.email)
    return client


@pytest.fixture
def admin(app, people):
    return _client(app, people["admin"])


def text(response) -> str:
    return response.get_data(as_text=True)


def _set(client, name, value=None, action="save"):
    data = {"action": action} if value is None else {"value": value, "action": action}
    return client.post(f"/agent/admin/business/{name}", data=data)


def _changes(prefix=""):
    stmt = select(AuditEvent).where(AuditEvent.ticket_id.is_(None)).order_by(AuditEvent.id)
    return [e for e in db.session.execute(stmt).scalars() if e.action.startswith(prefix)]


def _mail(sender, message_id):
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, SUPPORT, "Cheap watches"
    mail["Message-ID"] = message_id
    mail.set_content("Buy now.")
    return bytes(mail)


# --- business settings ------------------------------------------------------------------------


def test_the_business_name_shows_in_the_page_title_and_portal_header(app, admin):
    assert "Configured Desk" in text(app.test_client().get("/login"))

    response = _set(admin, "business_name", "  Acme   Support ")
    assert response.status_code == 302
    portal = text(app.test_client().get("/login"))

    assert "<title>" in portal and "Acme Support</title>" in portal
    assert 'class="brand"' in portal and ">Acme Support</a>" in portal
    assert "Configured Desk" not in portal


def test_invite_only_sign_up_refuses_open_sign_up(app, admin):
    assert _set(admin, "signup_policy", "invite").status_code == 302
    visitor = app.test_client()

    page = text(visitor.get("/signup"))
    response = visitor.post("/signup", data={"email": "nora@example.test", "name": "Nora"})

    assert "Accounts are created by invitation only." in page
    assert response.status_code == 200 and response.location is None
    assert "Accounts are created by invitation only." in text(response)
    assert db.session.execute(select(OutboxItem)).first() is None  # no confirmation mail


def test_a_category_with_a_team_appears_in_the_portal_form_and_routes_there(app, admin, people):
    response = admin.post(
        "/agent/admin/business/categories",
        data={"action": "save", "name": ["Billing", "Hardware", ""], "team": ["", "Support", ""]},
    )
    assert response.status_code == 302
    customer = _client(app, people["customer"])

    form = text(customer.get("/tickets/new"))
    created = customer.post(
        "/tickets/new",
        data={"subject": "Broken", "body": "It is.", "category": "Hardware"},
        content_type="multipart/form-data",
    )

    assert "Billing" in form and "Hardware" in form
    assert created.status_code == 302
    assert get_setting("categories") == [
        {"name": "Billing", "team": None},
        {"name": "Hardware", "team": "Support"},
    ]
    ticket = db.session.execute(select(Ticket)).scalar_one()
    assert ticket.team_id == people["support"].id


def test_the_settings_page_shows_current_values_and_the_category_rows(admin, people):
    page = text(admin.get("/agent/admin/business"))
    assert "Configured Desk" in page and "Reopen window (days)" in page
    assert page.count('name="name"') == 3  # no categories yet: three blank rows to add some
    assert "<option>Support</option>" in page


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("reopen_days", "0", "Give a number of days from 1 to 3650."),
        ("reopen_days", "ten", "Give a number of days from 1 to 3650."),
        ("link_days", "99999", "Give a number of days from 1 to 3650."),
        ("timezone", "Mars/Olympus", "is not a time zone."),
        ("signup_policy", "everyone", "The sign-up policy is one of open, domains, invite."),
        ("business_name", "   ", "Give the business a name of 1 to 100 characters."),
        ("business_name", "x" * 101, "Give the business a name of 1 to 100 characters."),
    ],
)
def test_a_bad_value_is_refused_with_a_clear_message_and_changes_nothing(
    admin, name, value, message
):
    before = get_setting(name)

    response = _set(admin, name, value)

    assert response.status_code == 400
    assert message.replace("“", "") in text(response).replace("“", "")
    assert get_setting(name) == before
    assert _changes() == []


def test_an_over_long_value_is_refused_by_the_form(admin):
    response = _set(admin, "business_name", "x" * 500)
    assert response.status_code == 400
    assert "Field cannot be longer than 200 characters." in text(response)
    assert get_setting("business_name") == "Configured Desk"


def test_a_category_naming_no_team_or_repeated_is_refused(admin):
    unknown = admin.post(
        "/agent/admin/business/categories",
        data={"action": "save", "name": ["Billing"], "team": ["Ghosts"]},
    )
    twice = admin.post(
        "/agent/admin/business/categories",
        data={"action": "save", "name": ["Billing", "Billing"], "team": ["", ""]},
    )

    assert unknown.status_code == 400 and "There is no team named" in text(unknown)
    assert twice.status_code == 400 and "unique name" in text(twice)
    assert get_setting("categories") == []


def test_reset_restores_the_default_and_is_logged(admin):
    _set(admin, "reopen_days", "30")
    assert get_setting("reopen_days") == 30
    assert "Reset to default" in text(admin.get("/agent/admin/business"))

    response = _set(admin, "reopen_days", action="reset")

    assert response.status_code == 302
    assert get_setting("reopen_days") == 7
    [changed, reset] = _changes("setting.")
    assert (changed.old_value, changed.new_value) == ("reopen_days: 7", "30")
    assert (reset.old_value, reset.new_value) == ("reopen_days: 30", "7 (default)")


def test_each_change_is_audited_with_who_and_shortened_values(admin, people):
    long_name = "N" * 100
    _set(admin, "customer_priority", "on")
    _set(admin, "customer_priority", "on")  # unchanged: no second line
    _set(admin, "business_name", long_name)
    admin.post(
        "/agent/admin/business/categories",
        data={"action": "save", "name": [f"Category {i:03}" for i in range(40)], "team": []},
    )

    events = _changes()
    assert [e.action for e in events] == ["setting.changed"] * 3
    assert all(e.ticket_id is None and e.actor_user_id == people["admin"].id for e in events)
    assert events[0].actor_label == "Ada Admin <admin@desk.test>"
    assert (events[0].old_value, events[0].new_value) == ("customer_priority: false", "true")
    assert events[1].new_value == long_name
    assert len(events[2].new_value) == VALUE_MAX and events[2].new_value.endswith("…")
    assert get_setting("customer_priority") is True


def test_unchecking_a_yes_no_setting_turns_it_off(admin):
    _set(admin, "customer_priority", "on")
    admin.post("/agent/admin/business/customer_priority", data={"action": "save"})
    assert get_setting("customer_priority") is False


@pytest.mark.parametrize(
    "path",
    [
        "/agent/admin/business",
        "/agent/admin/canned",
        "/agent/admin/blocked",
        "/agent/admin/changes",
    ],
)
def test_customers_get_404_and_agents_403_on_every_page(app, people, path):
    customer, agent = _client(app, people["customer"]), _client(app, people["agent"])
    assert customer.get(path).status_code == 404
    assert agent.get(path).status_code == 403


def test_an_agent_cannot_change_a_setting(app, people):
    agent = _client(app, people["agent"])
    assert _set(agent, "signup_policy", "invite").status_code == 403
    assert get_setting("signup_policy") == "open" and _changes() == []


def test_the_services_refuse_an_agent_even_without_the_pages(people):
    agent = Actor.for_user(people["agent"])
    with pytest.raises(PermissionDenied):
        change_setting(agent, "reopen_days", 3)
    with pytest.raises(PermissionDenied):
        block_sender(agent, "spam@example.net")


# --- canned responses ---------------------------------------------------------------------------


def test_canned_responses_are_created_previewed_edited_and_deleted(admin):
    body = "Hello {{customer_name}}, ticket #{{ ticket_number }} is fixed."
    preview = admin.post(
        "/agent/admin/canned/new", data={"title": "Fixed", "body": body, "preview": "1"}
    )
    assert "Hello Carol Customer, ticket #1042 is fixed." in text(preview)
    assert db.session.execute(select(CannedResponse)).first() is None

    created = admin.post("/agent/admin/canned/new", data={"title": "Fixed", "body": body})
    assert created.status_code == 302
    [response] = db.session.execute(select(CannedResponse)).scalars()
    listing = text(admin.get("/agent/admin/canned"))
    assert "Fixed" in listing and "Every agent" in listing

    edited = admin.post(
        f"/agent/admin/canned/{response.id}",
        data={"title": "Fixed for good", "body": body.replace("fixed", "solved")},
    )
    assert edited.status_code == 302
    db.session.refresh(response)
    assert response.title == "Fixed for good" and "solved" in response.body

    deleted = admin.post(f"/agent/admin/canned/{response.id}/delete")
    assert deleted.status_code == 302
    assert db.session.execute(select(CannedResponse)).first() is None
    assert "No canned responses yet." in text(admin.get("/agent/admin/canned"))
    assert [(e.action, e.old_value, e.new_value) for e in _changes("canned.")] == [
        ("canned.created", None, "Fixed"),
        ("canned.changed", "Fixed", "Fixed for good"),
        ("canned.deleted", "Fixed for good", None),
    ]


def test_a_shared_canned_response_fills_in_the_console_reply_box(app, admin, people, make):
    admin.post(
        "/agent/admin/canned/new",
        data={"title": "Thanks", "body": "Dear {{customer_name}}, see #{{ticket_number}}."},
    )
    ticket = make.ticket(people["customer"], team=people["support"])
    db.session.commit()
    response = db.session.execute(select(CannedResponse)).scalar_one()
    agent = _client(app, people["agent"])

    page = agent.post(
        f"/agent/tickets/{ticket.number}/reply",
        data={"body": "", "canned": str(response.id), "insert_canned": "1", "last_seen": 0},
    )

    assert f"Dear Carol Customer, see #{ticket.number}." in text(page)


def test_a_personal_canned_response_is_its_owners_only(app, admin, people):
    admin.post(
        "/agent/admin/canned/new",
        data={"title": "Mine", "body": "Just me.", "personal": "y"},
    )
    response = db.session.execute(select(CannedResponse)).scalar_one()
    assert response.owner_id == people["admin"].id
    assert "Only me" in text(admin.get("/agent/admin/canned"))
    assert canned_for(Actor.for_user(people["agent"])) == []


def test_a_bad_canned_response_is_refused_and_kept_in_the_form(admin):
    unknown = admin.post(
        "/agent/admin/canned/new", data={"title": "Oops", "body": "Hi {{customer_email}}"}
    )
    untitled = admin.post("/agent/admin/canned/new", data={"title": "", "body": "Text"})
    too_long = admin.post("/agent/admin/canned/new", data={"title": "x" * 101, "body": "Text"})

    assert unknown.status_code == 400 and "{{customer_email}}” is not a placeholder" in text(
        unknown
    )
    assert "Hi {{customer_email}}" in text(unknown)
    assert untitled.status_code == 400 and too_long.status_code == 400
    assert db.session.execute(select(CannedResponse)).first() is None
    assert _changes() == []


def test_editing_an_unknown_canned_response_is_404(admin):
    assert admin.get("/agent/admin/canned/999").status_code == 404
    assert admin.post("/agent/admin/canned/999/delete").status_code == 404


# --- blocked senders -----------------------------------------------------------------------------


def test_a_blocked_sender_is_held_as_spam_and_accepted_once_unblocked(admin, people):
    first = ingest.ingest_raw(_mail("Spammer <spam@junk.example>", "<1@junk>"))
    assert first.outcome == Outcome.NEW_TICKET

    added = admin.post("/agent/admin/blocked", data={"pattern": "spam@junk.example"})
    held = ingest.ingest_raw(_mail("Spammer <spam@junk.example>", "<2@junk>"))
    row = db.session.execute(select(BlockedSender)).scalar_one()
    listing = text(admin.get("/agent/admin/blocked"))

    assert added.status_code == 302
    assert held.outcome == Outcome.BLOCKED and held.ticket_number is None
    assert "spam@junk.example" in listing and "Ada Admin" in listing

    removed = admin.post(f"/agent/admin/blocked/{row.id}/remove")
    accepted = ingest.ingest_raw(_mail("Spammer <spam@junk.example>", "<3@junk>"))

    assert removed.status_code == 302
    assert accepted.outcome == Outcome.NEW_TICKET and accepted.ticket_number is not None
    assert "Nobody is blocked." in text(admin.get("/agent/admin/blocked"))
    assert [(e.action, e.old_value, e.new_value) for e in _changes("blocked_sender.")] == [
        ("blocked_sender.added", None, "spam@junk.example"),
        ("blocked_sender.removed", "spam@junk.example", None),
    ]


def test_blocking_a_domain_holds_every_address_in_it(admin):
    response = admin.post(
        "/agent/admin/blocked", data={"pattern": "@Junk.Example", "reason": "A spam wave"}
    )
    held = ingest.ingest_raw(_mail("anyone@junk.example", "<4@junk>"))

    assert response.status_code == 302
    assert held.outcome == Outcome.BLOCKED
    listing = text(admin.get("/agent/admin/blocked"))
    assert "the domain junk.example" in listing and "A spam wave" in listing


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("not an address", "is not a mail domain."),
        ("bob@", "is not a valid e-mail address."),
        ("", "Address or domain: This field is required."),
        ("a" * 300 + ".example", "Field cannot be longer than 254 characters."),
    ],
)
def test_a_bad_pattern_is_refused_and_nothing_is_blocked(admin, pattern, message):
    response = admin.post("/agent/admin/blocked", data={"pattern": pattern})

    assert response.status_code == 400
    assert message in text(response).replace("“", "").replace("”", "")
    assert db.session.execute(select(BlockedSender)).first() is None


def test_blocking_twice_says_so(admin):
    admin.post("/agent/admin/blocked", data={"pattern": "junk.example"})
    again = admin.post("/agent/admin/blocked", data={"pattern": "junk.example"})
    assert again.status_code == 409 and "@junk.example is blocked already." in text(again)


# --- the change log -----------------------------------------------------------------------------


def test_the_change_log_pages_newest_first_and_filters_by_kind(app, admin):
    for days in range(1, 56):
        _set(admin, "reopen_days", str(days))
    admin.post("/agent/admin/blocked", data={"pattern": "junk.example"})

    first = text(admin.get("/agent/admin/changes"))
    assert first.index("blocked_sender.added") < first.index("reopen_days: 54")
    assert first.count("<code>") == 50
    older = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = text(admin.get(older))
    assert second.count("<code>") == 6 and "reopen_days: 1" in second and 'rel="next"' not in second
    only_blocks = text(admin.get("/agent/admin/changes?action=blocked_sender."))
    assert only_blocks.count("<code>") == 1
    nothing = text(admin.get("/agent/admin/changes?action=canned"))
    assert "No changes recorded." in nothing
    garbled = admin.get("/agent/admin/changes?after=yesterday_x")
    assert garbled.status_code == 200 and text(garbled).count("<code>") == 50


def test_the_admin_index_lists_the_configuration_pages(admin):
    index = text(admin.get("/agent/admin/"))
    for label in ("Business settings", "Canned responses", "Blocked senders", "Change log"):
        assert label in index
