"""`flask seed --tickets N`: bulk tickets that look like what the services write."""

from collections import Counter as Tally

import pytest
from sqlalchemy import func, select, text, update

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Role, Team, User
from helpdesk.contacts.models import Contact, ContactEmail, Organization, OrganizationDomain
from helpdesk.demo import DEMO_PASSWORD
from helpdesk.extensions import db
from helpdesk.seed_index import bulk_search_indexing
from helpdesk.tickets.models import Counter, Message, MessageKind, Tag, Ticket, ticket_tags
from helpdesk.tickets.search import search_ticket_ids
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow
from tests.conftest import login


def seed(runner, count=300):
    result = runner.invoke(args=["seed", "--tickets", str(count)])
    assert result.exit_code == 0, result.output
    return result


def tickets():
    return db.session.execute(select(Ticket).order_by(Ticket.number)).scalars().all()


def test_seed_creates_the_tickets_asked_for_each_with_a_conversation(runner):
    result = seed(runner)

    assert "Seeded 300 tickets" in result.output
    per_ticket = dict(
        db.session.execute(
            select(Message.ticket_id, func.count()).group_by(Message.ticket_id)
        ).all()
    )
    assert len(tickets()) == 300
    assert len(per_ticket) == 300
    assert all(1 <= n <= 8 for n in per_ticket.values())
    assert max(per_ticket.values()) >= 5  # long threads too, not only one-liners


def test_seeded_queue_has_every_status_priority_and_channel(runner):
    seed(runner)

    rows = tickets()
    statuses = Tally(t.status for t in rows)
    assert set(statuses) == set(Status)
    assert statuses[Status.CLOSED] > statuses[Status.NEW]  # old tickets are mostly done
    priorities = Tally(t.priority for t in rows)
    assert priorities.most_common(1)[0][0] == "normal"
    assert {t.channel for t in rows} == {"email", "portal", "agent", "api"}


def test_seeded_timestamps_follow_the_ticket_lifecycle(runner):
    seed(runner)
    now = utcnow()

    for t in tickets():
        times = [m.created_at for m in t.messages]
        assert t.created_at == times[0] and times == sorted(times), t.number
        assert times[-1] < t.updated_at <= now, t.number
        if t.status == Status.NEW:
            assert t.first_response_at is None and t.assignee_id is None, t.number
        else:
            assert t.created_at < t.first_response_at < t.updated_at, t.number
            assert t.assignee is not None and t.assignee.role == Role.AGENT, t.number
        if t.status == Status.RESOLVED:
            assert t.first_response_at < t.resolved_at < t.updated_at, t.number
            assert t.closed_at is None, t.number
        elif t.status == Status.CLOSED:
            assert t.first_response_at < t.closed_at < t.updated_at, t.number
            assert t.resolved_at is None or t.resolved_at < t.closed_at, t.number
        else:
            assert t.resolved_at is None and t.closed_at is None, t.number
        assert t.version == 1


def test_seeded_conversations_alternate_customer_and_agent_with_some_notes(runner):
    seed(runner)

    kinds = Tally(m.kind for t in tickets() for m in t.messages)
    assert kinds[MessageKind.NOTE] > 0 and kinds[MessageKind.REPLY] > kinds[MessageKind.NOTE]
    for t in tickets():
        public = [m for m in t.messages if m.kind == MessageKind.REPLY]
        authors = ["agent" if m.author_contact_id is None else "customer" for m in public]
        assert authors[0] == "customer", t.number
        if t.status == Status.NEW:
            assert set(authors) == {"customer"}, t.number  # maybe a nudge, no answer yet
            continue
        assert all(a != b for a, b in zip(authors, authors[1:], strict=False)), t.number
        if t.status in (Status.PENDING, Status.RESOLVED, Status.CLOSED):
            assert authors[-1] == "agent", t.number  # waiting on the customer


def test_seeded_text_mixes_languages_and_rare_words(runner):
    seed(runner)

    bodies = " ".join(db.session.scalars(select(Message.body_text)))
    subjects = " ".join(t.subject for t in tickets())
    assert "printer" in (bodies + subjects).lower() or "invoice" in (bodies + subjects).lower()
    assert any("\u0400" <= ch <= "\u04ff" for ch in bodies)  # Russian
    assert any(word in bodies for word in ("Olá", "Obrigado", "pedido", "fatura"))  # Portuguese
    assert "SO-" in bodies + subjects or "INV-" in bodies + subjects  # order/invoice numbers


def test_a_ticket_opened_after_seeding_gets_the_next_free_number(runner, make):
    seed(runner)
    highest = max(t.number for t in tickets())

    ticket = make.ticket(subject="Opened through the service")

    assert ticket.number == highest + 1
    counter = db.session.get(Counter, "ticket")
    assert counter.value == ticket.number


def test_seed_continues_after_numbers_that_real_tickets_took(runner, make):
    first = make.ticket()
    db.session.commit()

    seed(runner, 50)

    numbers = [t.number for t in tickets()]
    assert numbers == list(range(first.number, first.number + 51))


def test_seeding_twice_adds_more_without_collisions(runner):
    seed(runner)
    seed(runner)

    rows = tickets()
    assert len(rows) == 600
    assert len({t.number for t in rows}) == 600
    assert db.session.scalar(select(func.count()).select_from(Team)) == 4  # reused, not doubled
    emails = db.session.scalars(select(ContactEmail.email)).all()
    assert len(emails) == len(set(emails)) > 0
    names = db.session.scalars(select(Organization.name)).all()
    assert len(names) == len(set(names))


def test_seeded_requesters_belong_to_organizations_by_mail_domain_or_write_from_free_mail(runner):
    seed(runner)

    contacts = db.session.execute(select(Contact)).scalars().all()
    in_org = [c for c in contacts if c.organization_id is not None]
    free_mail = [c for c in contacts if c.organization_id is None]
    assert in_org and free_mail
    for contact in in_org:
        domains = {d.domain for d in contact.organization.domains}
        assert contact.primary_email.rpartition("@")[2] in domains
    assert db.session.scalar(select(func.count()).select_from(OrganizationDomain)) == len(
        db.session.scalars(select(Organization.id)).all()
    )
    for ticket in tickets():
        assert ticket.organization_id == ticket.requester.organization_id


def test_seeded_tickets_carry_zero_to_three_tags_from_a_small_vocabulary(runner):
    seed(runner)

    per_ticket = Tally(db.session.scalars(select(ticket_tags.c.ticket_id)))
    assert per_ticket and max(per_ticket.values()) <= 3
    assert len(per_ticket) < 300  # some tickets have none
    assert 30 <= db.session.scalar(select(func.count()).select_from(Tag)) <= 50


def test_seeded_agents_and_customers_sign_in_with_the_demo_password(runner, client):
    seed(runner)
    agent = db.session.scalars(select(User).where(User.role == Role.AGENT)).first()
    customer = db.session.scalars(select(User).where(User.role == Role.CUSTOMER)).first()

    assert agent.teams
    for user, home in ((agent, "/agent/"), (customer, "/tickets")):
        response = login(client, user.email, DEMO_PASSWORD)
        assert response.status_code == 302
        assert response.headers["Location"].endswith(home)
        assert client.post("/logout").status_code == 302


# --- the search index: filled in bulk, the same as the triggers would have written it -------


def trigger_names() -> list[str]:
    """The search index triggers in force."""
    if db.engine.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'fts%'"
    else:  # tgenabled 'D': disabled
        sql = "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'fts%' AND tgenabled != 'D'"
    return sorted(db.session.scalars(text(sql)))


def search_index() -> dict[str, list]:
    """Everything the search tables hold: on SQLite each word with its row, column and place."""
    if db.engine.dialect.name == "postgresql":
        return {
            table: db.session.execute(
                text(f"SELECT {key}, document::text FROM {table} ORDER BY {key}")  # noqa: S608
            ).all()
            for table, key in (("fts_messages", "message_id"), ("fts_tickets", "ticket_id"))
        }
    index = {}
    with db.engine.connect() as conn:  # temp tables live in one connection
        for table in ("fts_messages", "fts_tickets"):
            conn.exec_driver_sql(
                f"CREATE VIRTUAL TABLE temp.words_{table} USING fts5vocab(main, {table}, instance)"
            )
            index[table] = conn.exec_driver_sql(
                f"SELECT term, doc, col, offset FROM temp.words_{table}"  # noqa: S608
                " ORDER BY doc, col, offset"
            ).all()
            conn.exec_driver_sql(f"DROP TABLE temp.words_{table}")
    return index


def indexed_rows(index_rows) -> set[int]:
    """The row ids in a `search_index()` table (SQLite lists words; the row id comes second)."""
    position = 0 if db.engine.dialect.name == "postgresql" else 1
    return {row[position] for row in index_rows}


def found(actor, query) -> set[int]:
    return {hit.ticket_id for hit in search_ticket_ids(actor, query, limit=500)}


def test_seeded_search_index_is_exactly_what_the_triggers_write(runner):
    seed(runner, 40)
    seeded = search_index()

    # Make the triggers index every row again, from the same text.
    db.session.execute(update(Ticket).values(subject=Ticket.subject))
    db.session.execute(update(Message).values(body_text=Message.body_text))
    db.session.execute(update(Contact).values(name=Contact.name))
    db.session.commit()

    assert search_index() == seeded
    assert indexed_rows(seeded["fts_tickets"]) == set(db.session.scalars(select(Ticket.id)))
    assert indexed_rows(seeded["fts_messages"]) == set(db.session.scalars(select(Message.id)))


def test_seeded_tickets_are_found_by_subject_message_words_and_requester(runner, make):
    admin = Actor.for_user(make.admin())
    db.session.commit()
    seed(runner, 40)

    for ticket in tickets()[::7]:
        words = ticket.messages[-1].body_text.split()[:6]
        contact = ticket.requester
        assert ticket.id in found(admin, f'"{ticket.subject}"'), ticket.subject
        assert ticket.id in found(admin, '"' + " ".join(words) + '"'), words
        assert ticket.id in found(admin, f'"{contact.name}"'), contact.name
        assert ticket.id in found(admin, contact.primary_email), contact.primary_email


def test_after_a_seed_the_triggers_are_back_and_index_new_tickets(runner, make):
    before = trigger_names()
    admin = Actor.for_user(make.admin())
    db.session.commit()

    result = seed(runner, 20)

    assert "Indexing the new rows for search and restoring the triggers" in result.output
    assert trigger_names() == before and len(before) >= 4
    ticket = make.ticket(subject="Zeppelin hangar flooded", body="The quixotic valve leaks.")
    db.session.commit()
    assert found(admin, "zeppelin") == {ticket.id}
    assert found(admin, "quixotic") == {ticket.id}


def test_a_bulk_insert_that_fails_half_way_restores_the_triggers_and_indexes_its_rows(make):
    before = trigger_names()
    admin = Actor.for_user(make.admin())
    db.session.commit()
    said = []

    with pytest.raises(RuntimeError, match="interrupted"), bulk_search_indexing(said.append):
        assert trigger_names() == []
        ticket = make.ticket(subject="Written while indexing was paused", body="Gramophone.")
        db.session.commit()
        raise RuntimeError("interrupted")

    assert trigger_names() == before
    assert found(admin, "gramophone") == {ticket.id}
    assert found(admin, "paused") == {ticket.id}
    assert any("paused" in line for line in said) and "restored" in said[-1]
