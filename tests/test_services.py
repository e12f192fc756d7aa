"""The ticket verbs on a real database: what they write, what they refuse, and that a refused
call leaves nothing behind."""

import hashlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from helpdesk import storage
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.services import claim_address
from helpdesk.contacts.services import find_contact_by_email, find_or_create_contact
from helpdesk.errors import (
    Conflict,
    InvalidTransition,
    PermissionDenied,
    ValidationError,
)
from helpdesk.extensions import db
from helpdesk.notifications import ACKNOWLEDGE
from helpdesk.outbox.models import OutboxItem
from helpdesk.tickets import permissions
from helpdesk.tickets.models import (
    Attachment,
    AuditEvent,
    Channel,
    Message,
    MessageKind,
    Priority,
    Tag,
    Ticket,
)
from helpdesk.tickets.services import (
    FIRST_TICKET_NUMBER,
    add_note,
    add_reply,
    assign,
    change_priority,
    change_status,
    close_resolved_tickets,
    merge,
    next_ticket_number,
    open_ticket,
    tag,
)
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow
from helpdesk.validation import SUBJECT_MAX, TAGS_PER_TICKET_MAX, Upload

REOPEN_DAYS = 7  # the default HELPDESK_REOPEN_DAYS


@pytest.fixture
def agent(make):
    return make.agent(name="Agent Smith")


@pytest.fixture
def customer(make):
    return make.customer(name="Carla Customer")


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _audit(ticket: Ticket, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.ticket_id == ticket.id).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(db.session.execute(query).scalars())


def _changes(ticket: Ticket, action: str) -> list[tuple[str | None, str | None]]:
    return [(row.old_value, row.new_value) for row in _audit(ticket, action)]


def _reply(ticket: Ticket, actor: Actor, body: str = "More details.", **kw) -> Message:
    return add_reply(ticket, actor, body=body, channel=kw.pop("channel", Channel.PORTAL), **kw)


def _resolved_days_ago(ticket: Ticket, agent, days: float) -> None:
    change_status(ticket, Actor.for_user(agent), Status.RESOLVED)
    ticket.resolved_at = utcnow() - timedelta(days=days)  # as if time had passed
    db.session.flush()


# --- open_ticket -----------------------------------------------------------------------------


def test_ticket_numbers_start_at_the_first_number_and_increase_without_repeats(make, customer):
    numbers = [make.ticket(customer).number for _ in range(5)]
    assert numbers == list(range(FIRST_TICKET_NUMBER, FIRST_TICKET_NUMBER + 5))
    db.session.commit()
    assert next_ticket_number() == FIRST_TICKET_NUMBER + 5


def test_open_ticket_copies_the_requesters_organization(make, customer):
    acme = make.organization("Acme")
    customer.contact.organization = acme
    ticket = make.ticket(customer)
    db.session.commit()
    assert db.session.get(Ticket, ticket.id).organization_id == acme.id


def test_open_ticket_stores_uploads_under_their_sha256(app, customer, storage_dir):
    data = b"%PDF-1.4 invoice bytes"
    ticket = open_ticket(
        Actor.for_user(customer),
        requester=customer.contact,
        subject="Invoice attached",
        body="See the file.",
        channel=Channel.PORTAL,
        uploads=[Upload("../../invoice.pdf", "application/pdf", data)],
    )
    db.session.commit()
    digest = hashlib.sha256(data).hexdigest()
    (row,) = db.session.execute(select(Attachment)).scalars()
    assert (row.ticket_id, row.message_id) == (ticket.id, ticket.messages[0].id)
    assert (row.sha256, row.filename, row.size) == (digest, "invoice.pdf", len(data))
    assert row.content_type == "application/pdf"
    path = storage.blob_path(digest)
    assert str(path).startswith(storage_dir) and path.read_bytes() == data


def test_open_ticket_records_who_created_it_and_when(agent, customer):
    before = utcnow()
    ticket = open_ticket(
        Actor.for_user(agent),
        requester=customer.contact,
        subject="Phoned in",
        body="Customer called about the printer.",
        channel=Channel.AGENT,
    )
    (row,) = _audit(ticket)
    assert (row.action, row.old_value, row.new_value) == ("created", None, f"#{ticket.number}")
    assert row.actor_user_id == agent.id and "Agent Smith" in row.actor_label
    assert before <= row.created_at <= utcnow()


@pytest.mark.parametrize("opener", ["customer", "agent", "system"])
def test_first_message_is_the_requesters_whoever_opens_the_ticket(make, customer, opener):
    actors = {
        "customer": Actor.for_user(customer),
        "agent": Actor.for_user(make.agent()),
        "system": Actor.system(),
    }
    ticket = open_ticket(
        actors[opener],
        requester=customer.contact,
        subject="Hello",
        body="My words.",
        channel=Channel.EMAIL,
    )
    first = ticket.messages[0]
    assert first.kind == MessageKind.REPLY and first.body_text == "My words."
    assert first.author_contact_id == customer.contact.id
    assert first.author_name == "Carla Customer"


def test_customer_opens_only_their_own_tickets_at_normal_priority(make, customer):
    someone_else = make.customer()
    actor = Actor.for_user(customer)
    with pytest.raises(PermissionDenied, match="only open requests for yourself"):
        open_ticket(
            actor, requester=someone_else.contact, subject="x", body="y", channel=Channel.PORTAL
        )
    with pytest.raises(PermissionDenied, match="Only agents set the priority"):
        open_ticket(
            actor,
            requester=customer.contact,
            subject="x",
            body="y",
            channel=Channel.PORTAL,
            priority=Priority.URGENT,
        )
    assert _count(Ticket) == 0


def test_cc_contacts_become_participants_but_not_the_requester_twice(make, customer):
    colleague = make.customer()
    ticket = make.ticket(customer, cc=[colleague.contact, customer.contact])
    db.session.commit()
    assert [p.contact_id for p in ticket.participants] == [colleague.contact.id]


def test_open_ticket_queues_the_acknowledgement_in_the_same_transaction(customer):
    db.session.commit()
    ticket = open_ticket(
        Actor.for_user(customer),
        requester=customer.contact,
        subject="Please confirm",
        body="Did you get this?",
        channel=Channel.PORTAL,
    )
    rows = db.session.execute(select(OutboxItem).where(OutboxItem.kind == ACKNOWLEDGE)).scalars()
    assert [f'"ticket_id": {ticket.id}' in row.payload for row in rows] == [True]
    db.session.rollback()
    assert _count(OutboxItem) == 0 and _count(Ticket) == 0


# --- add_reply -------------------------------------------------------------------------------


def test_agent_reply_sets_first_response_once_and_opens_a_new_ticket(make, agent):
    ticket = make.ticket()
    assert ticket.first_response_at is None and ticket.status == Status.NEW
    _reply(ticket, Actor.for_user(agent), "We are on it.")
    first = ticket.first_response_at
    assert first is not None and ticket.status == Status.OPEN
    _reply(ticket, Actor.for_user(agent), "Still on it.")
    assert ticket.first_response_at == first
    assert _changes(ticket, "status") == [("new", "open")]


def test_customer_reply_reopens_a_pending_ticket(make, agent, customer):
    ticket = make.ticket(customer)
    change_status(ticket, Actor.for_user(agent), Status.PENDING)
    message = _reply(ticket, Actor.for_user(customer), "Here is the info you asked for.")
    assert message.ticket_id == ticket.id and ticket.status == Status.OPEN
    assert _changes(ticket, "status")[-1] == ("pending", "open")


def test_customer_reply_leaves_new_and_open_tickets_as_they_are(make, agent, customer):
    ticket = make.ticket(customer)
    _reply(ticket, Actor.for_user(customer))
    assert ticket.status == Status.NEW
    change_status(ticket, Actor.for_user(agent), Status.OPEN)
    _reply(ticket, Actor.for_user(customer))
    assert ticket.status == Status.OPEN


def test_customer_reply_within_the_window_reopens_a_resolved_ticket(make, agent, customer):
    ticket = make.ticket(customer)
    _resolved_days_ago(ticket, agent, REOPEN_DAYS - 0.5)
    message = _reply(ticket, Actor.for_user(customer), "It broke again.")
    assert message.ticket_id == ticket.id
    assert ticket.status == Status.OPEN and ticket.resolved_at is None
    assert _count(Ticket) == 1


@pytest.mark.parametrize("final", ["resolved-long-ago", "closed"])
def test_customer_reply_to_a_finished_ticket_opens_a_linked_follow_up(make, agent, customer, final):
    ticket = make.ticket(customer, subject="Printer jams")
    if final == "closed":
        change_status(ticket, Actor.for_user(agent), Status.CLOSED)
    else:
        _resolved_days_ago(ticket, agent, REOPEN_DAYS + 1)
    status_before = ticket.status
    message = _reply(ticket, Actor.for_user(customer), "It jams again.")
    follow_up = message.ticket
    assert follow_up.id != ticket.id and follow_up.follow_up_of_id == ticket.id
    assert follow_up.number > ticket.number and follow_up.subject == "Printer jams"
    assert follow_up.requester_id == customer.contact.id and follow_up.status == Status.NEW
    assert [m.body_text for m in follow_up.messages if m.kind == MessageKind.REPLY] == [
        "It jams again."
    ]
    assert ticket.status == status_before
    assert all(m.body_text != "It jams again." for m in ticket.messages)


def test_agent_cannot_reply_to_a_closed_ticket(make, agent):
    ticket = make.ticket()
    change_status(ticket, Actor.for_user(agent), Status.CLOSED)
    with pytest.raises(InvalidTransition, match="is closed"):
        _reply(ticket, Actor.for_user(agent))


# --- add_note --------------------------------------------------------------------------------


def test_note_is_internal_and_does_not_count_as_a_response(make, agent):
    ticket = make.ticket()
    note = add_note(ticket, Actor.for_user(agent), body="Customer is a VIP.")
    assert note.kind == MessageKind.NOTE and not note.is_public
    assert note.author_user_id == agent.id and note.author_contact_id is None
    assert ticket.status == Status.NEW and ticket.first_response_at is None


# --- assign ----------------------------------------------------------------------------------


def test_assign_records_old_and_new_assignee_and_opens_a_new_ticket(make, agent):
    other = make.agent(email="other.agent@example.test")
    ticket = make.ticket()
    actor = Actor.for_user(agent)
    assign(ticket, actor, assignee=agent)
    assert ticket.assignee_id == agent.id and ticket.status == Status.OPEN
    assign(ticket, actor, assignee=other)
    assign(ticket, actor, assignee=None)
    assert ticket.assignee_id is None
    assert _changes(ticket, "assignee") == [
        (None, agent.email),
        (agent.email, other.email),
        (other.email, None),
    ]
    assert _changes(ticket, "status") == [("new", "open")]
    assert {row.actor_user_id for row in _audit(ticket, "assignee")} == {agent.id}


def test_assigning_the_same_agent_again_changes_nothing(make, agent):
    ticket = make.ticket()
    assign(ticket, Actor.for_user(agent), assignee=agent)
    assign(ticket, Actor.for_user(agent), assignee=agent)
    assert len(_audit(ticket, "assignee")) == 1


def test_only_active_agents_can_be_assigned(make, agent):
    ticket = make.ticket()
    disabled = make.agent(active=False)
    for not_assignable, why in [(make.customer(), "Only agents"), (disabled, "is disabled")]:
        with pytest.raises(ValidationError, match=why):
            assign(ticket, Actor.for_user(agent), assignee=not_assignable)
    assert ticket.assignee_id is None and ticket.status == Status.NEW
    assert _audit(ticket, "assignee") == []


def test_assigning_a_team_is_audited_by_name(make):
    support, billing = make.team("Support"), make.team("Billing")
    agent = make.agent(teams=[support])
    ticket = make.ticket(team=support)
    assign(ticket, Actor.for_user(agent), team=billing)
    assert ticket.team_id == billing.id
    assert _changes(ticket, "team") == [("Support", "Billing")]


# --- change_status ---------------------------------------------------------------------------


def test_change_status_stamps_resolved_and_closed_times(make, agent):
    ticket = make.ticket()
    actor = Actor.for_user(agent)
    change_status(ticket, actor, Status.RESOLVED)
    assert ticket.resolved_at is not None and ticket.closed_at is None
    change_status(ticket, actor, "open")
    assert ticket.resolved_at is None
    change_status(ticket, actor, Status.RESOLVED)
    change_status(ticket, actor, Status.CLOSED)
    assert ticket.closed_at is not None and ticket.status == Status.CLOSED
    assert _changes(ticket, "status") == [
        ("new", "resolved"),
        ("resolved", "open"),
        ("open", "resolved"),
        ("resolved", "closed"),
    ]


def test_customer_can_resolve_but_not_close_their_ticket(make, customer):
    ticket = make.ticket(customer)
    actor = Actor.for_user(customer)
    with pytest.raises(InvalidTransition, match="Only an agent"):
        change_status(ticket, actor, Status.CLOSED)
    change_status(ticket, actor, Status.RESOLVED)
    (row,) = _audit(ticket, "status")
    assert row.actor_user_id == customer.id and row.new_value == "resolved"


def test_unknown_status_is_a_validation_error(make, agent):
    with pytest.raises(ValidationError, match="not a status"):
        change_status(make.ticket(), Actor.for_user(agent), "frozen")


# --- change_priority -------------------------------------------------------------------------


def test_change_priority_is_audited_and_unknown_priorities_refused(make, agent):
    ticket = make.ticket()
    actor = Actor.for_user(agent)
    change_priority(ticket, actor, "urgent")
    change_priority(ticket, actor, Priority.URGENT)  # no change, no audit row
    assert ticket.priority == Priority.URGENT
    assert _changes(ticket, "priority") == [("normal", "urgent")]
    with pytest.raises(ValidationError, match="not a priority"):
        change_priority(ticket, actor, "whenever")
    assert ticket.priority == Priority.URGENT


# --- tag -------------------------------------------------------------------------------------


def test_tags_are_normalized_added_and_removed(make, agent):
    ticket = make.ticket()
    actor = Actor.for_user(agent)
    tag(ticket, actor, add=[" VIP", "Billing", "vip"])
    assert [t.name for t in ticket.tags] == ["billing", "vip"]
    tag(ticket, actor, add=["urgent-fix"], remove=["BILLING", "not-there"])
    db.session.commit()
    db.session.expire_all()
    assert [t.name for t in ticket.tags] == ["urgent-fix", "vip"]
    assert _changes(ticket, "tags") == [("", "billing, vip"), ("billing, vip", "urgent-fix, vip")]
    tag(make.ticket(), actor, add=["vip"])
    assert _count(Tag) == 3  # "vip" is shared, not created twice


def test_tag_limit_counts_the_tags_already_there(make, agent):
    ticket = make.ticket()
    actor = Actor.for_user(agent)
    tag(ticket, actor, add=[f"t{i}" for i in range(TAGS_PER_TICKET_MAX)])
    with pytest.raises(ValidationError, match="At most"):
        tag(ticket, actor, add=["one-too-many"])
    with pytest.raises(ValidationError, match="not a valid tag"):
        tag(ticket, actor, add=["no spaces"])
    assert len(ticket.tags) == TAGS_PER_TICKET_MAX
    tag(ticket, actor, add=["t0"])  # already there: fine
    assert len(_audit(ticket, "tags")) == 1


# --- merge -----------------------------------------------------------------------------------


def test_merge_moves_the_conversation_and_closes_the_source(make, agent, customer):
    colleague = make.customer()
    target = make.ticket(make.customer(), subject="Printer broken")
    source = make.ticket(
        customer,
        subject="Printer still broken",
        body="Same here.",
        cc=[colleague.contact],
        uploads=[Upload("photo.jpg", "image/jpeg", b"\xff\xd8jpeg")],
    )
    actor = Actor.for_user(agent)
    merge(source, target, actor)
    db.session.commit()
    db.session.expire_all()
    bodies = [m.body_text for m in target.messages]
    assert "Same here." in bodies and f"#{source.number} was merged into this ticket." in bodies
    assert [m.body_text for m in source.messages] == [f"Merged into #{target.number}."]
    (attachment,) = db.session.execute(select(Attachment)).scalars()
    assert attachment.ticket_id == target.id
    assert {p.contact_id for p in target.participants} == {
        customer.contact.id,
        colleague.contact.id,
    }
    assert source.status == Status.CLOSED and source.merged_into_id == target.id
    assert _changes(source, "merged_into") == [(None, f"#{target.number}")]
    assert _changes(target, "merged_from") == [(None, f"#{source.number}")]
    # The source's requester can now see the target, and a late reply follows the merge.
    assert permissions.can_view_ticket(Actor.for_user(customer), target)
    late = _reply(source, Actor.for_user(customer), "Any update?")
    assert late.ticket_id == target.id


def test_merge_refuses_itself_and_closed_targets(make, agent):
    actor = Actor.for_user(agent)
    source, closed = make.ticket(), make.ticket()
    change_status(closed, actor, Status.CLOSED)
    with pytest.raises(ValidationError, match="into itself"):
        merge(source, source, actor)
    with pytest.raises(InvalidTransition, match="is closed"):
        merge(source, closed, actor)
    assert source.status == Status.NEW and source.merged_into_id is None


def test_merge_into_an_already_merged_ticket_is_refused(make, agent):
    actor = Actor.for_user(agent)
    first, second, third = make.ticket(), make.ticket(), make.ticket()
    merge(second, third, actor)
    with pytest.raises(ValidationError, match="was itself merged"):
        merge(first, second, actor)


# --- close_resolved_tickets ------------------------------------------------------------------


def test_auto_close_closes_only_tickets_resolved_before_the_window(make, agent):
    old = make.ticket(subject="Old")
    recent = make.ticket(subject="Recent")
    edge = make.ticket(subject="Edge")
    untouched = make.ticket(subject="Still open")
    _resolved_days_ago(old, agent, REOPEN_DAYS + 1)
    _resolved_days_ago(recent, agent, 1)
    now = utcnow()
    _resolved_days_ago(edge, agent, 0)
    edge.resolved_at = now - timedelta(days=REOPEN_DAYS)  # exactly at the edge: still open
    db.session.commit()
    assert close_resolved_tickets(now=now) == 1
    assert [t.status for t in (old, recent, edge, untouched)] == [
        Status.CLOSED,
        Status.RESOLVED,
        Status.RESOLVED,
        Status.NEW,
    ]
    assert old.closed_at is not None
    (row,) = _audit(old, "status")[-1:]
    assert (row.actor_label, row.old_value, row.new_value) == ("system", "resolved", "closed")
    assert close_resolved_tickets(now=now) == 0


# --- the audit trail -------------------------------------------------------------------------


def test_every_change_leaves_an_audit_row_saying_who_what_from_to_and_when(make, agent):
    support = make.team("Support")
    ticket = make.ticket()
    actor = Actor.for_user(agent)
    start = utcnow()
    assign(ticket, actor, assignee=agent, team=support)
    change_priority(ticket, actor, Priority.HIGH)
    tag(ticket, actor, add=["vip"])
    change_status(ticket, actor, Status.PENDING)
    rows = [(r.action, r.old_value, r.new_value) for r in _audit(ticket)]
    assert rows == [
        ("created", None, f"#{ticket.number}"),
        ("assignee", None, agent.email),
        ("status", "new", "open"),
        ("team", None, "Support"),
        ("priority", "normal", "high"),
        ("tags", "", "vip"),
        ("status", "open", "pending"),
    ]
    for row in _audit(ticket)[1:]:
        assert row.actor_user_id == agent.id and start <= row.created_at <= utcnow()


# --- nothing half-written --------------------------------------------------------------------


def _snapshot() -> dict[str, int]:
    models = (Ticket, Message, Attachment, AuditEvent, OutboxItem, Tag)
    return {model.__name__: _count(model) for model in models}


def _invalid_calls(make, agent, customer):
    """Each call breaks one rule late enough that a careless service would have written."""
    ticket = make.ticket(customer)
    staff, owner = Actor.for_user(agent), Actor.for_user(customer)
    huge = Upload("huge.bin", "application/octet-stream", b"x" * (1024 * 1024 + 1))
    small = Upload("small.txt", "text/plain", b"fine")

    def new(**kw):
        fields = {"subject": "Subject", "body": "Body", "uploads": [small]} | kw
        return open_ticket(owner, requester=customer.contact, channel=Channel.PORTAL, **fields)

    return ticket, {
        "over-long subject": lambda: new(subject="s" * (SUBJECT_MAX + 1)),
        "empty body": lambda: new(body="   "),
        "oversized upload": lambda: new(uploads=[small, huge]),
        "oversized reply upload": lambda: _reply(ticket, owner, uploads=[small, huge]),
        "invalid transition": lambda: change_status(ticket, owner, Status.CLOSED),
        "too many tags": lambda: tag(ticket, staff, add=[f"t{i}" for i in range(30)]),
        "customer as assignee": lambda: assign(ticket, staff, assignee=customer),
        "merge into itself": lambda: merge(ticket, ticket, staff),
    }


def test_a_refused_call_writes_nothing(app, make, agent, customer, storage_dir):
    app.config["HELPDESK_MAX_ATTACHMENT_MB"] = 1
    ticket, calls = _invalid_calls(make, agent, customer)
    db.session.commit()
    before, blobs = _snapshot(), sorted(storage.storage_root().rglob("*"))
    version = ticket.version
    for name, call in calls.items():
        with pytest.raises((ValidationError, InvalidTransition, PermissionDenied)):
            call()
        assert _snapshot() == before, f"{name}: rows written before the refusal"
        db.session.rollback()
        assert _snapshot() == before, name
        assert sorted(storage.storage_root().rglob("*")) == blobs, f"{name}: file stored"
        db.session.refresh(ticket)
        assert (ticket.status, ticket.version, ticket.tags) == (Status.NEW, version, []), name


# --- ticket numbers under concurrency --------------------------------------------------------


def test_two_app_contexts_allocating_alternately_never_collide(app):
    numbers = []
    for _ in range(4):
        for _context in ("a", "b"):
            with app.app_context():
                numbers.append(next_ticket_number())
                db.session.commit()
    assert numbers == sorted(set(numbers)) and len(numbers) == 8


def test_concurrent_allocations_in_threads_are_unique(app):
    per_thread, results, errors = 8, {}, []

    def allocate(name: str) -> None:
        try:
            with app.app_context():
                mine = []
                for _ in range(per_thread):
                    mine.append(next_ticket_number())
                    db.session.commit()
                results[name] = mine
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=allocate, args=(f"t{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    every = [n for mine in results.values() for n in mine]
    assert len(set(every)) == len(every) == 3 * per_thread
    assert all(mine == sorted(mine) for mine in results.values())


# --- claiming an address ---------------------------------------------------------------------


def test_claimed_address_brings_its_tickets_and_cc_threads_to_the_account(make, customer):
    walk_in = find_or_create_contact("walk-in@example.test", "Walk In")
    mailed = make.ticket(walk_in, subject="Sent by mail before signing up")
    copied = make.ticket(make.customer(), subject="Cc'd by a colleague", cc=[walk_in])
    db.session.commit()
    claim_address(customer, "Walk-In@Example.test")
    db.session.commit()
    db.session.expire_all()
    me = Actor.for_user(customer)
    assert mailed.requester_id == customer.contact.id
    assert [m.author_contact_id for m in mailed.messages] == [customer.contact.id]
    assert find_contact_by_email("walk-in@example.test").id == customer.contact.id
    assert permissions.can_view_ticket(me, mailed)
    assert permissions.can_view_ticket(me, copied)
    assert {p.contact_id for p in copied.participants} == {customer.contact.id}


def test_an_address_of_another_account_cannot_be_claimed(make, customer):
    owner = make.customer(email="taken@example.test")
    with pytest.raises(Conflict, match="belongs to another account"):
        claim_address(customer, "taken@example.test")
    # Also for an account that has no contact of its own yet.
    customer.contact = None
    db.session.flush()
    with pytest.raises(Conflict, match="belongs to another account"):
        claim_address(customer, "taken@example.test")
    assert find_contact_by_email("taken@example.test").user.id == owner.id
