"""Who may see and do what: every role against every action on their own, their organization's
and someone else's ticket, checked in the can_* rules, in the services and in the SQL filter."""

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from helpdesk import create_app
from helpdesk.accounts.actor import Actor
from helpdesk.contacts.services import find_or_create_contact
from helpdesk.errors import NotFound, PermissionDenied
from helpdesk.extensions import db
from helpdesk.tickets import permissions, services
from helpdesk.tickets.models import Channel, Priority, Ticket
from helpdesk.tickets.states import Status
from tests.conftest import Builder, _empty_all_tables, base_config

ROLES = [
    "requester",  # a customer who opened the "own" ticket
    "other_customer",  # a customer of another organization
    "org_manager",  # manages the requester's organization
    "org_colleague",  # same organization as the requester, not a manager
    "cc_participant",  # copied on the "own" ticket
    "team_agent",  # in the team the own and organization tickets are routed to
    "other_team_agent",  # in the team the "other" ticket is routed to
    "all_teams_agent",  # works every team's tickets
    "admin",
]
TICKETS = ["own", "organization", "other"]

# Which of the three tickets each role may see, written out by hand.
VISIBLE = {
    "requester": {"own"},
    "other_customer": {"other"},
    "org_manager": {"own", "organization"},
    "org_colleague": {"organization"},
    "cc_participant": {"own"},
    "team_agent": {"own", "organization"},
    "other_team_agent": {"other"},
    "all_teams_agent": {"own", "organization", "other"},
    "admin": {"own", "organization", "other"},
}

CUSTOMER_ACTIONS = {"view", "reply", "change_status"}
AGENT_ACTIONS = CUSTOMER_ACTIONS | {
    "add_note",
    "see_notes",
    "assign",
    "change_priority",
    "tag",
    "merge",
}
ADMIN_ACTIONS = AGENT_ACTIONS | {"delete"}
ACTIONS_BY_ROLE = {
    "requester": CUSTOMER_ACTIONS,
    "other_customer": CUSTOMER_ACTIONS,
    "org_manager": CUSTOMER_ACTIONS,
    "org_colleague": CUSTOMER_ACTIONS,
    "cc_participant": CUSTOMER_ACTIONS,
    "team_agent": AGENT_ACTIONS,
    "other_team_agent": AGENT_ACTIONS,
    "all_teams_agent": AGENT_ACTIONS,
    "admin": ADMIN_ACTIONS,
}
ALL_ACTIONS = sorted(ADMIN_ACTIONS)


def expected(role: str, ticket: str) -> dict[str, bool]:
    """What the role may do to the ticket: only what it sees, and only what its kind may do."""
    return {
        action: ticket in VISIBLE[role] and action in ACTIONS_BY_ROLE[role]
        for action in ALL_ACTIONS
    }


@dataclass
class World:
    actors: dict[str, Actor]
    tickets: dict[str, Ticket]
    merge_target: Ticket
    make: Builder


@pytest.fixture(scope="module")
def module_app(migrated, tmp_path_factory):
    """One app for the module: the world below is built once, not once per test."""
    app = create_app(base_config(migrated, str(tmp_path_factory.mktemp("storage"))))
    with app.app_context():
        yield app
        db.session.rollback()
        _empty_all_tables()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def committed_world(module_app) -> World:
    world = _build_world(Builder())
    db.session.commit()
    return world


@pytest.fixture
def world(committed_world):
    """The shared world; whatever a test changes is rolled back after it."""
    yield committed_world
    db.session.rollback()


def _build_world(make: Builder) -> World:
    acme, globex = make.organization("Acme"), make.organization("Globex")
    support, billing = make.team("Support"), make.team("Billing")
    users = {
        "requester": make.customer(),
        "other_customer": make.customer(),
        "org_manager": make.customer(org_manager=True),
        "org_colleague": make.customer(),
        "cc_participant": make.customer(),
        "team_agent": make.agent(teams=[support]),
        "other_team_agent": make.agent(teams=[billing]),
        "all_teams_agent": make.agent(teams=[billing], all_teams=True),
        "admin": make.admin(),
    }
    for role in ("requester", "org_manager", "org_colleague"):
        users[role].contact.organization = acme
    users["other_customer"].contact.organization = globex
    db.session.flush()
    tickets = {
        "own": make.ticket(users["requester"], team=support, cc=[users["cc_participant"].contact]),
        "organization": make.ticket(users["org_colleague"], team=support),
        "other": make.ticket(users["other_customer"], team=billing),
    }
    # Unrouted, so every agent can merge into it; its requester is none of the roles.
    target = make.ticket(make.customer(), subject="Merge target")
    actors = {role: Actor.for_user(user) for role, user in users.items()}
    return World(actors, tickets, target, make)


def _can(action: str, actor: Actor, ticket: Ticket) -> bool:
    checks = {
        "view": permissions.can_view_ticket,
        "reply": permissions.can_reply,
        "add_note": permissions.can_add_note,
        "see_notes": lambda a, t: (
            permissions.can_see_notes(a) and permissions.can_view_ticket(a, t)
        ),
        "change_status": permissions.can_change_status,
        "assign": permissions.can_work_ticket,
        "change_priority": permissions.can_work_ticket,
        "tag": permissions.can_work_ticket,
        "merge": permissions.can_work_ticket,
        "delete": lambda a, t: permissions.can_delete_ticket(a),
    }
    return checks[action](actor, ticket)


def test_the_tickets_are_set_up_as_the_matrix_assumes(world):
    own, org, other = (world.tickets[name] for name in TICKETS)
    acme = world.actors["requester"].contact.organization_id
    assert own.organization_id == org.organization_id == acme
    assert other.organization_id not in (None, acme)
    assert [p.contact_id for p in own.participants] == [world.actors["cc_participant"].contact.id]
    assert world.actors["org_manager"].user.org_manager
    assert not world.actors["org_colleague"].user.org_manager


@pytest.mark.parametrize("role", ROLES)
def test_can_rules_match_the_matrix(world, role):
    actor = world.actors[role]
    allowed = {
        name: {action: _can(action, actor, ticket) for action in ALL_ACTIONS}
        for name, ticket in world.tickets.items()
    }
    assert allowed == {name: expected(role, name) for name in TICKETS}


@pytest.mark.parametrize("role", ROLES)
def test_only_staff_see_internal_notes(world, role):
    assert permissions.can_see_notes(world.actors[role]) == ("agent" in role or role == "admin")


def _attempt(call) -> str:
    """Run a service call in a savepoint that is always rolled back; say how it ended."""
    savepoint = db.session.begin_nested()
    try:
        call()
        return "ok"
    except NotFound:
        return "not_found"
    except PermissionDenied:
        return "forbidden"
    finally:
        savepoint.rollback()


def _service_calls(world: World, actor: Actor, ticket: Ticket) -> dict:
    helper = world.actors["team_agent"].user
    return {
        "view": lambda: services.get_ticket(actor, ticket.number),
        "reply": lambda: services.add_reply(
            ticket, actor, body="Any news?", channel=Channel.PORTAL
        ),
        "add_note": lambda: services.add_note(ticket, actor, body="Internal: call them back."),
        "change_status": lambda: services.change_status(ticket, actor, Status.RESOLVED),
        "assign": lambda: services.assign(ticket, actor, assignee=helper),
        "change_priority": lambda: services.change_priority(ticket, actor, Priority.HIGH),
        "tag": lambda: services.tag(ticket, actor, add=["vip"]),
        "merge": lambda: services.merge(ticket, world.merge_target, actor),
    }


def _expected_outcomes(role: str, ticket_name: str, actions) -> dict[str, str]:
    may = expected(role, ticket_name)
    return {
        action: "ok" if may[action] else "forbidden" if may["view"] else "not_found"
        for action in actions
    }


@pytest.mark.parametrize("role", ROLES)
def test_services_enforce_the_matrix(world, role):
    """A ticket the actor may not see is NotFound (its existence stays secret); one it sees
    but may not act on is PermissionDenied; everything else succeeds."""
    actor = world.actors[role]
    outcomes, wanted = {}, {}
    for name, ticket in world.tickets.items():
        calls = _service_calls(world, actor, ticket)
        outcomes[name] = {action: _attempt(call) for action, call in calls.items()}
        wanted[name] = _expected_outcomes(role, name, calls)
    assert outcomes == wanted


def test_hidden_ticket_and_missing_ticket_give_the_same_answer(world):
    outsider = world.actors["other_customer"]
    hidden = world.tickets["own"].number
    with pytest.raises(NotFound) as for_hidden:
        services.get_ticket(outsider, hidden)
    with pytest.raises(NotFound) as for_missing:
        services.get_ticket(outsider, 999_999)
    assert for_hidden.value.message == f"There is no ticket #{hidden}."
    assert for_missing.value.message == "There is no ticket #999999."


def test_customer_adding_a_note_to_own_ticket_is_forbidden_and_writes_nothing(world):
    ticket = world.tickets["own"]
    before = len(ticket.messages)
    with pytest.raises(PermissionDenied, match="Only agents"):
        services.add_note(ticket, world.actors["requester"], body="secret")
    db.session.expire_all()
    assert len(ticket.messages) == before


def test_agent_sees_unrouted_tickets_and_those_assigned_to_them(world):
    make = world.make
    agent = world.actors["other_team_agent"]
    unrouted = make.ticket(subject="Nobody routed me")
    routed_elsewhere = world.tickets["own"]
    assert permissions.can_view_ticket(agent, unrouted)
    assert not permissions.can_view_ticket(agent, routed_elsewhere)
    services.assign(routed_elsewhere, world.actors["admin"], assignee=agent.user)
    assert permissions.can_view_ticket(agent, routed_elsewhere)


def test_org_manager_without_organization_sees_only_own_tickets(world):
    make = world.make
    manager = make.customer(org_manager=True)
    mine = make.ticket(manager)
    no_org_ticket = make.ticket(make.customer())  # organization None, like the manager's
    actor = Actor.for_user(manager)
    assert permissions.can_view_ticket(actor, mine)
    assert not permissions.can_view_ticket(actor, no_org_ticket)


def _extra_actors(world: World) -> dict[str, Actor]:
    """Edge cases for the filter: a mail sender without an account, a manager without an
    organization, a customer account whose contact is gone, and the system."""
    make = world.make
    walk_in = find_or_create_contact("walk-in@example.test", "Walk In")
    walk_in.organization = world.actors["requester"].contact.organization
    make.ticket(walk_in, subject="Mailed in")
    lonely_manager = make.customer(org_manager=True)
    make.ticket(lonely_manager, subject="Manager without organization")
    orphan = make.customer()
    orphan.contact = None
    db.session.flush()
    return {
        "address_only_contact": Actor.for_contact(walk_in),
        "manager_without_org": Actor.for_user(lonely_manager),
        "customer_without_contact": Actor.for_user(orphan),
        "system": Actor.system(),
    }


def test_visible_tickets_filter_selects_exactly_what_can_view_allows(world):
    make = world.make
    agent_only = world.actors["other_team_agent"].user
    assigned = make.ticket(subject="Assigned across teams", team=world.tickets["own"].team)
    services.assign(assigned, Actor.system(), assignee=agent_only)
    make.ticket(subject="Unrouted")
    make.ticket(world.actors["org_manager"].user, subject="Manager's own")
    actors = dict(world.actors) | _extra_actors(world)
    every = db.session.execute(select(Ticket)).scalars().all()
    seen = {}
    for name, actor in actors.items():
        selected = set(
            db.session.execute(
                select(Ticket.number).where(permissions.visible_tickets_filter(actor))
            ).scalars()
        )
        allowed = {t.number for t in every if permissions.can_view_ticket(actor, t)}
        assert selected == allowed, name
        seen[name] = selected
    assert len(seen["system"]) == len(seen["admin"]) == len(every) == 9
    assert seen["customer_without_contact"] == set()
    assert len(seen["address_only_contact"]) == len(seen["manager_without_org"]) == 1
    assert assigned.number in seen["other_team_agent"]
