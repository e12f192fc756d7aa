"""The people administration: agents, teams, customer accounts and invitations."""

import re

import pytest
from flask import current_app
from sqlalchemy import select

from helpdesk.accounts import admin as people
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Invitation, Role, Team, User
from helpdesk.accounts.services import find_user_by_email
from helpdesk.errors import Conflict, PermissionDenied
from helpdesk.extensions import db
from helpdesk.settings import set_setting
from helpdesk.tickets.models import AuditEvent
from tests.conftest import PASSWORD, login
from tests.portal.conftest import deliver, link_path, mails_to, text_of


@pytest.fixture
def app_config(app_config, smtp, request):
    """Mail goes to the suite's SMTP server; a test may add config entries by parametrizing."""
    smtp.clear()
    extra = getattr(request, "param", {})
    return {
        **app_config,
        "MAIL_SERVER": smtp.host,
        "MAIL_PORT": smtp.port,
        "MAIL_SUPPRESS_SEND": False,
        **extra,
    }


def with_config(**overrides):
    return pytest.mark.parametrize("app_config", [overrides], indirect=True, ids=["config"])


@pytest.fixture
def ada(make) -> User:
    admin = make.admin(email="ada@desk.test", name="Ada Admin")
    db.session.commit()
    return admin


@pytest.fixture
def signed_in(app):
    """A fresh client signed in as `user`."""

    def sign_in(user: User):
        db.session.commit()
        client = app.test_client()
        assert login(client, user.email).status_code == 302
        return client

    return sign_in


def _audits(action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    return list(db.session.execute(query).scalars())


def _fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _flashed(client) -> str:
    return _text(client.get("/agent/admin/"))


# --- services ---------------------------------------------------------------------------------


def test_an_agent_is_refused_every_people_service_and_nothing_is_audited(make):
    agent = make.agent()
    other, customer = make.agent(), make.customer()
    team = make.team("Support")
    actor = Actor.for_user(agent)
    calls = [
        lambda: people.add_staff(actor, "new@desk.test", "New Agent", "agent"),
        lambda: people.update_staff(actor, other, name="X", role="admin", teams=[]),
        lambda: people.set_active(actor, other, False),
        lambda: people.create_team(actor, "Billing"),
        lambda: people.rename_team(actor, team, "Renamed"),
        lambda: people.set_team_members(actor, team, [agent]),
        lambda: people.delete_team(actor, team),
        lambda: people.set_org_manager(actor, customer, True),
        lambda: people.invite_customer(actor, "guest@example.test"),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert find_user_by_email("new@desk.test") is None
    assert db.session.execute(select(AuditEvent)).first() is None
    assert team.name == "Support" and other.active


def test_changes_to_an_agent_are_audited_with_old_and_new_values(make, ada):
    support, billing = make.team("Support"), make.team("Billing")
    actor = Actor.for_user(ada)
    sam = people.add_staff(actor, "Sam@Desk.test", "Sam Support", "agent", [support])
    people.update_staff(actor, sam, name="Samuel Support", role="admin", teams=[billing])

    assert sam.email == "sam@desk.test" and sam.role == Role.ADMIN and sam.password_hash is None
    [created] = _audits("agent.created")
    assert created.ticket_id is None and created.actor_user_id == ada.id
    assert created.new_value == "sam@desk.test (agent; Support)"
    [renamed] = _audits("agent.renamed")
    assert (renamed.old_value, renamed.new_value) == ("Sam Support", "Samuel Support")
    [role] = _audits("agent.role_changed")
    assert (role.old_value, role.new_value) == ("sam@desk.test: agent", "admin")
    [teams] = _audits("agent.teams_changed")
    assert (teams.old_value, teams.new_value) == ("sam@desk.test: Support", "Billing")


def test_the_last_active_admin_can_neither_leave_nor_be_demoted(make, ada):
    actor = Actor.for_user(ada)
    with pytest.raises(Conflict, match="At least one active administrator must remain"):
        people.set_active(actor, ada, False)
    with pytest.raises(Conflict, match="At least one active administrator must remain"):
        people.update_staff(actor, ada, name=ada.name, role="agent", teams=[])
    assert ada.active and ada.role == Role.ADMIN


def test_an_admin_cannot_deactivate_or_demote_themselves_but_can_another_admin(make, ada):
    bea = make.admin(name="Bea Admin")
    actor = Actor.for_user(ada)
    with pytest.raises(Conflict, match="your own account"):
        people.set_active(actor, ada, False)
    with pytest.raises(Conflict, match="your own role"):
        people.update_staff(actor, ada, name=ada.name, role="agent", teams=[])

    people.update_staff(actor, bea, name=bea.name, role="agent", teams=[])
    people.set_active(actor, bea, False)
    assert bea.role == Role.AGENT and not bea.active
    assert [e.new_value for e in _audits("agent.deactivated")] == [bea.email]


def test_a_deactivated_admin_cannot_act_with_a_stale_actor(make, ada):
    bea = make.admin(name="Bea Admin")
    stale = Actor.for_user(bea)
    people.set_active(Actor.for_user(ada), bea, False)
    with pytest.raises(PermissionDenied):
        people.set_active(stale, ada, False)


def test_a_team_with_tickets_cannot_be_deleted_and_says_why(make, ada):
    actor = Actor.for_user(ada)
    team = people.create_team(actor, "Support", [ada])
    make.ticket(team=team)
    with pytest.raises(Conflict, match="Support still has 1 ticket; move them"):
        people.delete_team(actor, team)
    empty = people.create_team(actor, "Empty")
    people.delete_team(actor, empty)
    assert db.session.get(Team, empty.id) is None
    assert [e.old_value for e in _audits("team.deleted")] == ["Empty (-)"]


def test_renaming_a_team_to_a_taken_name_is_refused(make, ada):
    actor = Actor.for_user(ada)
    people.create_team(actor, "Support")
    billing = people.create_team(actor, "Billing")
    with pytest.raises(Conflict, match="exists already"):
        people.rename_team(actor, billing, "Support")
    people.rename_team(actor, billing, "Accounts")
    [renamed] = _audits("team.renamed")
    assert (renamed.old_value, renamed.new_value) == ("Billing", "Accounts")


# --- pages: who may see them ------------------------------------------------------------------

PAGES = [
    "/agent/admin/agents",
    "/agent/admin/agents/new",
    "/agent/admin/teams",
    "/agent/admin/customers",
    "/agent/admin/invitations",
]


def test_customers_get_404_agents_403_and_admins_the_pages(make, ada, signed_in):
    customer = signed_in(make.customer())
    agent = signed_in(make.agent())
    admin = signed_in(ada)
    for path in PAGES:
        assert customer.get(path).status_code == 404, path
        assert agent.get(path).status_code == 403, path
        assert admin.get(path).status_code == 200, path
    index = _text(admin.get("/agent/admin/"))
    for label in ("Agents", "Teams", "Customers", "Customer invitations"):
        assert f">{label}</a>" in index


def test_an_agent_cannot_post_to_the_people_pages(make, ada, signed_in):
    agent = signed_in(make.agent())
    response = agent.post("/agent/admin/teams", data={"name": "Sneaky"})
    assert response.status_code == 403
    assert db.session.execute(select(Team)).first() is None


@with_config(WTF_CSRF_ENABLED=True)
def test_people_forms_need_their_csrf_token(app, ada):
    admin = _signed_in_with_token(app, ada)
    assert admin.post("/agent/admin/teams", data={"name": "Forged"}).status_code == 400
    assert db.session.execute(select(Team)).first() is None

    token = _csrf_token(_text(admin.get("/agent/admin/teams")))
    response = admin.post("/agent/admin/teams", data={"name": "Real", "csrf_token": token})
    assert response.status_code == 303
    assert [t.name for t in db.session.execute(select(Team)).scalars()] == ["Real"]


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)[1]


def _signed_in_with_token(app, user):
    """Sign in through the login form, its token included (CSRF is on)."""
    db.session.commit()
    client = app.test_client()
    token = _csrf_token(_text(client.get("/login")))
    data = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302
    return client


# --- pages: agents ----------------------------------------------------------------------------


def test_an_added_agent_chooses_a_password_from_the_mail_and_signs_in(
    app, make, ada, signed_in, smtp
):
    support = make.team("Support")
    admin = signed_in(ada)
    response = admin.post(
        "/agent/admin/agents/new",
        data={
            "email": "sam@desk.test",
            "name": "Sam Support",
            "role": "agent",
            "teams": [support.id],
        },
    )
    assert response.status_code == 302
    listing = _text(admin.get("/agent/admin/agents"))
    assert "Sam Support" in listing and "no password chosen yet" in listing and "Support" in listing

    deliver()
    [mail] = mails_to(smtp, "sam@desk.test")
    assert "Ada Admin made you an account" in text_of(mail)
    path = link_path(mail, "/reset/")
    sam = app.test_client()
    response = sam.post(path, data={"password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/agent/"
    assert sam.post(path, data={"password": PASSWORD + "!"}).status_code == 404, "link is spent"


def test_a_deactivated_agent_is_signed_out_cannot_sign_in_and_keeps_their_tickets(
    app, make, ada, signed_in
):
    sam = make.agent(name="Sam Support")
    ticket = make.ticket()
    ticket.assignee = sam
    sam_client = signed_in(sam)
    admin = signed_in(ada)
    assert sam_client.get("/agent/").status_code == 200

    response = admin.post(f"/agent/admin/users/{sam.id}/active", data={"active": "0"})
    assert response.status_code == 303
    assert "Sam Support is deactivated" in _flashed(admin)
    listing = _text(admin.get("/agent/admin/agents"))
    assert "Deactivated" in listing and "1 open ticket still assigned" in listing

    assert sam_client.get("/agent/").status_code == 302, "the running session ends"
    refused = login(app.test_client(), sam.email)
    assert refused.status_code == 401 and "This account is disabled." in _text(refused)
    assert _fresh(type(ticket), ticket.id).assignee_id == sam.id
    page = _text(admin.get(f"/agent/tickets/{ticket.number}"))
    assert "<strong>Sam Support</strong> (deactivated: reassign this ticket)" in page

    admin.post(f"/agent/admin/users/{sam.id}/active", data={"active": "1"})
    assert login(app.test_client(), sam.email).status_code == 302


def test_the_admin_page_refuses_to_demote_the_admin_themselves(ada, signed_in, make):
    make.admin()
    admin = signed_in(ada)
    response = admin.post(f"/agent/admin/agents/{ada.id}", data={"name": "Ada", "role": "agent"})
    assert response.status_code == 409
    assert "You cannot change your own role" in _text(response)
    assert _fresh(User, ada.id).role == Role.ADMIN


def test_editing_an_agent_changes_name_role_and_teams(make, ada, signed_in):
    support, billing = make.team("Support"), make.team("Billing")
    sam = make.agent(name="Sam", teams=[support])
    admin = signed_in(ada)
    form = _text(admin.get(f"/agent/admin/agents/{sam.id}"))
    assert 'value="Sam"' in form
    data = {"name": "Sam Billing", "role": "admin", "teams": [billing.id]}
    assert admin.post(f"/agent/admin/agents/{sam.id}", data=data).status_code == 302
    sam = _fresh(User, sam.id)
    assert (sam.name, sam.role, [t.name for t in sam.teams]) == (
        "Sam Billing",
        Role.ADMIN,
        ["Billing"],
    )


# --- pages: teams -----------------------------------------------------------------------------


def test_teams_show_members_and_open_tickets_and_refuse_deletion_while_used(make, ada, signed_in):
    sam = make.agent(name="Sam")
    admin = signed_in(ada)
    admin.post("/agent/admin/teams", data={"name": "Support", "members": [sam.id, ada.id]})
    support = db.session.execute(select(Team)).scalar_one()
    make.ticket(team=support)
    listing = _text(admin.get("/agent/admin/teams"))
    assert "2 members" in listing and "1 open ticket" in listing

    page = _text(admin.get(f"/agent/admin/teams/{support.id}"))
    assert "It cannot be deleted: 1 ticket belongs to it" in page
    response = admin.post(f"/agent/admin/teams/{support.id}/delete")
    assert response.status_code == 303
    assert "Support still has 1 ticket" in _flashed(admin)
    assert _fresh(Team, support.id) is not None

    data = {"name": "Helpdesk", "members": [sam.id]}
    assert admin.post(f"/agent/admin/teams/{support.id}", data=data).status_code == 303
    team = _fresh(Team, support.id)
    assert team.name == "Helpdesk" and [m.name for m in team.members] == ["Sam"]
    assert [e.new_value for e in _audits("team.members_changed")] == ["Sam"]


# --- pages: customers -------------------------------------------------------------------------


def test_customers_are_found_by_organization_and_can_be_deactivated(make, ada, signed_in):
    acme = make.organization("Acme Widgets")
    carol = make.customer(name="Carol Customer", email="carol@acme.test")
    carol.contact.organization = acme
    make.ticket(carol)
    make.customer(name="Dave Elsewhere")
    admin = signed_in(ada)

    found = _text(admin.get("/agent/admin/customers?q=acme"))
    assert "Carol Customer" in found and "Dave Elsewhere" not in found
    assert f'href="/agent/crm/contacts/{carol.contact.id}"' in found
    assert f'href="/agent/crm/organizations/{acme.id}"' in found

    back = "/agent/admin/customers?q=acme"
    response = admin.post(
        f"/agent/admin/users/{carol.id}/active", data={"active": "0", "next": back}
    )
    assert response.status_code == 303 and response.headers["Location"] == back
    assert not _fresh(User, carol.id).active
    assert [e.new_value for e in _audits("user.deactivated")] == ["carol@acme.test"]
    assert login(current_app.test_client(), carol.email).status_code == 401


def test_an_organization_manager_is_set_only_for_a_customer_in_an_organization(
    make, ada, signed_in
):
    acme = make.organization("Acme")
    carol = make.customer(name="Carol")
    carol.contact.organization = acme
    loner = make.customer(name="Lonely")
    admin = signed_in(ada)

    admin.post(f"/agent/admin/customers/{carol.id}/manager", data={"manager": "1"})
    assert _fresh(User, carol.id).org_manager
    assert "Stop managing the organization" in _text(admin.get("/agent/admin/customers"))
    admin.post(f"/agent/admin/customers/{loner.id}/manager", data={"manager": "1"})
    assert "belongs to no organization" in _flashed(admin)
    assert not _fresh(User, loner.id).org_manager
    [audit] = _audits("user.org_manager")
    assert audit.new_value == "true"


# --- pages: invitations -----------------------------------------------------------------------


def test_an_invited_customer_signs_up_through_the_mailed_link(app, make, ada, signed_in, smtp):
    set_setting("signup_policy", "invite")
    acme = make.organization("Acme")
    admin = signed_in(ada)
    data = {"email": "Gus@Example.test", "name": "Gus Guest", "organization": str(acme.id)}
    assert admin.post("/agent/admin/invitations", data=data).status_code == 303
    pending = _text(admin.get("/agent/admin/invitations"))
    assert "gus@example.test" in pending and "Acme" in pending
    assert [e.new_value for e in _audits("invitation.created")] == ["gus@example.test (Acme)"]

    deliver()
    [mail] = mails_to(smtp, "gus@example.test")
    path = link_path(mail, "/invitation/")
    guest = app.test_client()
    response = guest.post(path, data={"name": "Gus Guest", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/tickets"
    user = find_user_by_email("gus@example.test")
    assert user.contact.organization_id == acme.id
    assert "No pending invitations." in _text(admin.get("/agent/admin/invitations"))


def test_a_revoked_invitation_link_stops_working(app, make, ada, signed_in, smtp):
    admin = signed_in(ada)
    admin.post("/agent/admin/invitations", data={"email": "gus@example.test"})
    deliver()
    [mail] = mails_to(smtp, "gus@example.test")
    path = link_path(mail, "/invitation/")
    invitation = db.session.execute(select(Invitation)).scalar_one()

    response = admin.post(f"/agent/admin/invitations/{invitation.id}/revoke")
    assert response.status_code == 303
    assert "its link no longer works" in _flashed(admin)
    assert app.test_client().get(path).status_code == 404
    assert find_user_by_email("gus@example.test") is None
    assert [e.old_value for e in _audits("invitation.revoked")] == ["gus@example.test"]


def test_an_invitation_revoked_before_its_mail_left_is_never_mailed(make, ada, signed_in, smtp):
    admin = signed_in(ada)
    admin.post("/agent/admin/invitations", data={"email": "hal@example.test"})
    invitation = db.session.execute(select(Invitation)).scalar_one()
    admin.post(f"/agent/admin/invitations/{invitation.id}/revoke")
    deliver()
    assert mails_to(smtp, "hal@example.test") == []


def test_inviting_someone_with_an_account_is_refused_on_the_page(make, ada, signed_in):
    carol = make.customer()
    admin = signed_in(ada)
    response = admin.post("/agent/admin/invitations", data={"email": carol.email})
    assert response.status_code == 409 and "has an account already" in _text(response)


def test_a_new_set_password_link_can_be_sent_until_a_password_is_chosen(make, ada, signed_in, smtp):
    sam = people.add_staff(Actor.for_user(ada), "sam@desk.test", "Sam", "agent")
    admin = signed_in(ada)
    assert "Send a new set-password link" in _text(admin.get(f"/agent/admin/agents/{sam.id}"))
    assert admin.post(f"/agent/admin/agents/{sam.id}/welcome").status_code == 303
    deliver()
    assert len(mails_to(smtp, "sam@desk.test")) == 2
    assert [e.new_value for e in _audits("agent.invited")] == ["sam@desk.test"]

    make.agent(email="has@desk.test")
    has = find_user_by_email("has@desk.test")
    admin.post(f"/agent/admin/agents/{has.id}/welcome")
    assert "does not wait for a set-password link" in _flashed(admin)


def test_inviting_an_address_again_replaces_its_pending_invitation(make, ada):
    actor = Actor.for_user(ada)
    first = people.invite_customer(actor, "gus@example.test")
    second = people.invite_customer(actor, "gus@example.test", "Gus")
    assert first.revoked_at is not None and second.revoked_at is None
    assert [i.id for i in db.session.execute(select(Invitation)).scalars() if not i.revoked_at] == [
        second.id
    ]
