"""Bulk realistic data for demos and benchmarks (`flask seed --tickets N`).

Rows go in as Core executemany inserts, one chunk of tickets per transaction, never through the
per-ticket services; but they look like what the services write: numbers from the "ticket"
counter, timestamps in the order the services stamp them, statuses the state machine allows.
Columns left out of the row dicts get their defaults (or NULL) and cost nothing to bind.
Memory stays bounded: tickets and their messages are built and written one chunk at a time.
The search index is filled once at the end, not row by row (see helpdesk/seed_index.py).
"""

import itertools
import random
import time
import unicodedata
from datetime import timedelta

import click
from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk.accounts.models import Role, Team, User, team_members
from helpdesk.accounts.passwords import hash_password
from helpdesk.contacts.models import Contact, ContactEmail, Organization, OrganizationDomain
from helpdesk.demo import DEMO_PASSWORD
from helpdesk.extensions import db
from helpdesk.seed_index import bulk_search_indexing
from helpdesk.seed_text import (
    FREEMAIL_DOMAINS,
    GENERIC_TAGS,
    ORG_NOUNS,
    ORG_PREFIXES,
    TAGS,
    TEAMS,
    Conversation,
    Person,
    person,
    pick_topic,
)
from helpdesk.tickets.models import (
    AuditEvent,
    Channel,
    Counter,
    Message,
    MessageKind,
    Priority,
    Tag,
    Ticket,
    ticket_tags,
)
from helpdesk.tickets.services import FIRST_TICKET_NUMBER
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow

CHUNK = 2_000  # tickets per transaction; their ~9,000 messages go in one executemany
MAX_REQUESTERS = 100_000  # a big helpdesk's customers write many tickets each
DAY = 86_400.0

NEW, OPEN, PENDING, RESOLVED, CLOSED = (
    Status.NEW,
    Status.OPEN,
    Status.PENDING,
    Status.RESOLVED,
    Status.CLOSED,
)
# Young tickets are still being worked on; old ones are almost all closed.
STATUS_BY_AGE = [
    (1.0, (NEW, OPEN, PENDING, RESOLVED), (45, 30, 15, 10)),
    (7.0, (NEW, OPEN, PENDING, RESOLVED, CLOSED), (8, 30, 22, 30, 10)),
    (30.0, (NEW, OPEN, PENDING, CLOSED), (2, 10, 8, 80)),
    (float("inf"), (OPEN, PENDING, CLOSED), (1, 1, 98)),
]
PRIORITIES = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)
PRIORITY_WEIGHTS = (12, 70, 14, 4)
MESSAGE_COUNTS = range(2, 9)
MESSAGE_COUNT_WEIGHTS = (30, 25, 18, 12, 8, 4, 3)


def seed_tickets(count: int, random_seed: int = 1, echo=print) -> None:
    """Add `count` tickets with requesters, organizations, agents, conversations and tags."""
    started = time.perf_counter()
    seeder = Seeder(count, random.Random(random_seed))
    with bulk_search_indexing(echo):
        seeder.prepare()
        with click.progressbar(length=count, label="Seeding tickets") as bar:
            for done in seeder.write_tickets():
                bar.update(done)
    elapsed = time.perf_counter() - started
    s = seeder
    echo(
        f"Seeded {count:,} tickets (#{s.first_number}-#{s.first_number + count - 1}) in"
        f" {elapsed:.1f}s: {s.messages:,} messages, {len(s.requesters):,} requesters"
        f" ({s.accounts:,} with accounts) in {len(s.orgs):,} organizations,"
        f" {len(s.agents):,} agents."
    )
    echo(f"Seeded agents and customers sign in with the password {DEMO_PASSWORD}, e.g. {s.login}.")


def allocate_ticket_numbers(count: int) -> int:
    """Take `count` consecutive ticket numbers in one statement; return the first."""
    stmt = (
        update(Counter)
        .where(Counter.name == "ticket")
        .values(value=Counter.value + count)
        .returning(Counter.value)
    )
    last = db.session.execute(stmt).scalar_one_or_none()
    if last is None:  # no ticket yet: create the row as next_ticket_number does
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(Counter).values(name="ticket", value=FIRST_TICKET_NUMBER - 1)
                )
        except IntegrityError:
            pass  # another process created it first
        last = db.session.execute(stmt).scalar_one()
    return last - count + 1


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c if c.isalnum() else "-" for c in plain.lower()).strip("-")


def _ensure_named(table, names) -> dict[str, int]:
    """Ids of the rows with these names, inserting the missing ones (teams, tags)."""
    found = dict(
        db.session.execute(select(table.c.name, table.c.id).where(table.c.name.in_(names))).all()
    )
    missing = [{"name": name} for name in names if name not in found]
    if missing:
        stmt = insert(table).returning(table.c.name, table.c.id)
        found.update(db.session.execute(stmt, missing).all())
    return found


def _user_row(email: str, name: str, role: Role, password_hash: str, created, contact_id=None):
    return {
        "email": email,
        "name": name,
        "password_hash": password_hash,
        "role": role,
        "active": True,
        "all_teams": False,
        "org_manager": False,
        "contact_id": contact_id,
        "locale": None,
        "timezone": None,
        "failed_logins": 0,
        "failed_login_at": None,
        "last_login_at": None,
        "created_at": created,
    }


class Seeder:
    """One run: its number range, its people, and the tickets it writes chunk by chunk."""

    def __init__(self, count: int, rng: random.Random):
        self.count = count
        self.rng = rng
        self.now = utcnow()
        # A young helpdesk has few tickets: squeeze small runs into weeks so every status shows.
        self.span = min(730.0, max(14.0, count / 10)) * DAY
        self.window = current_app.config["HELPDESK_REOPEN_DAYS"] * DAY
        self.messages = 0
        self.accounts = 0

    # --- people -------------------------------------------------------------------------------

    def prepare(self) -> None:
        self.first_number = allocate_ticket_numbers(self.count)
        # Commit at once: the counter row stays locked no longer than one UPDATE.
        db.session.commit()
        self.run = self.first_number  # unique per run: keeps this run's addresses unique
        self.password_hash = hash_password(DEMO_PASSWORD)  # once: argon2 is slow on purpose
        self.teams = _ensure_named(Team.__table__, TEAMS)
        self.tags = _ensure_named(Tag.__table__, TAGS)
        self.orgs = self._create_organizations(max(3, min(400, self.count // 150)))
        self._create_agents(max(len(TEAMS), min(60, self.count // 2000 + 3)))
        db.session.commit()
        self._create_requesters(max(10, min(MAX_REQUESTERS, self.count // 4)))

    def _org_candidates(self):
        pairs = list(itertools.product(ORG_PREFIXES, ORG_NOUNS))
        self.rng.shuffle(pairs)
        for round_ in itertools.count(1):
            for prefix, noun in pairs:
                tail = f" {round_}" if round_ > 1 else ""
                yield f"{prefix} {noun}{tail}", f"{_slug(prefix + ' ' + noun + tail)}.example"

    def _create_organizations(self, wanted: int) -> list[tuple[int, str]]:
        """New organizations, one mail domain each: [(id, domain)]."""
        taken = set(db.session.scalars(select(Organization.name)))
        taken |= set(db.session.scalars(select(OrganizationDomain.domain)))
        picked = []
        for name, domain in self._org_candidates():
            if name not in taken and domain not in taken:
                picked.append((name, domain))
                taken.update((name, domain))
                if len(picked) == wanted:
                    break
        created = self.now - timedelta(seconds=self.span + 30 * DAY)
        rows = [{"name": name, "notes": None, "created_at": created} for name, _ in picked]
        stmt = insert(Organization.__table__).returning(
            Organization.__table__.c.id, sort_by_parameter_order=True
        )
        ids = db.session.scalars(stmt, rows).all()
        db.session.execute(
            insert(OrganizationDomain.__table__),
            [{"organization_id": i, "domain": d} for i, (_, d) in zip(ids, picked, strict=True)],
        )
        return [(i, d) for i, (_, d) in zip(ids, picked, strict=True)]

    def _create_agents(self, wanted: int) -> None:
        created = self.now - timedelta(seconds=self.span + 60 * DAY)
        people = [person(self.rng, english_only=True) for _ in range(wanted)]
        rows = [
            _user_row(
                f"{p.local}.{self.run}-{n}@helpdesk.example",
                p.name,
                Role.AGENT,
                self.password_hash,
                created,
            )
            for n, p in enumerate(people, 1)
        ]
        stmt = insert(User.__table__).returning(User.__table__.c.id, sort_by_parameter_order=True)
        ids = db.session.scalars(stmt, rows).all()
        self.login = rows[0]["email"]
        self.agents = dict(zip(ids, people, strict=True))
        self.agent_ids = list(ids)
        self.agent_labels = {
            i: f"{p.name} <{r['email']}>" for i, p, r in zip(ids, people, rows, strict=True)
        }
        team_ids = list(self.teams.values())
        self.team_agents: dict[int, list[int]] = {t: [] for t in team_ids}
        for n, agent_id in enumerate(ids):
            teams = {team_ids[n % len(team_ids)]}  # round robin: every team gets someone
            if self.rng.random() < 0.3:
                teams.add(self.rng.choice(team_ids))
            for team_id in teams:
                self.team_agents[team_id].append(agent_id)
        db.session.execute(
            insert(team_members),
            [
                {"team_id": t, "user_id": a}
                for t, agents in self.team_agents.items()
                for a in agents
            ],
        )

    def _create_requesters(self, wanted: int) -> None:
        """Contacts with unique addresses: most in organizations, a quarter on free mail;
        a fifth have portal accounts."""
        self.requesters: list[tuple[int, int | None, int | None, Person, str]] = []
        created = self.now - timedelta(seconds=self.span + 10 * DAY)
        for start in range(0, wanted, CHUNK * 2):
            size = min(CHUNK * 2, wanted - start)
            batch = []
            for n in range(start, start + size):
                p = person(self.rng)
                if self.rng.random() < 0.75:
                    org_id, domain = self.orgs[int(len(self.orgs) * self.rng.random() ** 2)]
                else:
                    org_id, domain = None, self.rng.choice(FREEMAIL_DOMAINS)
                batch.append((p, org_id, f"{p.local}.{self.run}-{n + 1}@{domain}"))
            stmt = insert(Contact.__table__).returning(
                Contact.__table__.c.id, sort_by_parameter_order=True
            )
            ids = db.session.scalars(
                stmt,
                [
                    {"name": p.name, "organization_id": o, "created_at": created}
                    for p, o, _ in batch
                ],
            ).all()
            with_account = [self.rng.random() < 0.2 for _ in batch]
            db.session.execute(
                insert(ContactEmail.__table__),
                [
                    {"contact_id": i, "email": e, "verified": acct, "bouncing": False}
                    for i, (_, _, e), acct in zip(ids, batch, with_account, strict=True)
                ],
            )
            account_rows = [
                _user_row(e, p.name, Role.CUSTOMER, self.password_hash, created, contact_id=i)
                for i, (p, _, e), acct in zip(ids, batch, with_account, strict=True)
                if acct
            ]
            users = {}
            if account_rows:
                stmt = insert(User.__table__).returning(
                    User.__table__.c.contact_id, User.__table__.c.id
                )
                users = dict(db.session.execute(stmt, account_rows).all())
            self.accounts += len(users)
            for i, (p, org_id, email) in zip(ids, batch, strict=True):
                self.requesters.append((i, org_id, users.get(i), p, email))
            db.session.commit()

    # --- tickets ------------------------------------------------------------------------------

    def write_tickets(self):
        """Write the tickets chunk by chunk, one transaction each; yield how many each held."""
        for start in range(0, self.count, CHUNK):
            size = min(CHUNK, self.count - start)
            plans = [self._plan(n) for n in range(start, start + size)]
            db.session.execute(insert(Ticket.__table__), [p[0] for p in plans])
            # The numbers are this run's own, so the range finds exactly these tickets.
            number = Ticket.__table__.c.number
            first = self.first_number + start
            ids = dict(
                db.session.execute(
                    select(number, Ticket.__table__.c.id).where(
                        number.between(first, first + size - 1)
                    )
                ).all()
            )
            messages, tags, audits = [], [], []
            for ticket, plan_messages, plan_tags, plan_audits in plans:
                ticket_id = ids[ticket["number"]]
                for row in plan_messages:
                    row["ticket_id"] = ticket_id
                for row in plan_audits:
                    row["ticket_id"] = ticket_id
                messages += plan_messages
                audits += plan_audits
                tags += [{"ticket_id": ticket_id, "tag_id": t} for t in plan_tags]
            db.session.execute(insert(Message.__table__), messages)
            if audits:
                db.session.execute(insert(AuditEvent.__table__), audits)
            if tags:
                db.session.execute(insert(ticket_tags), tags)
            db.session.commit()
            self.messages += len(messages)
            yield size

    def _status(self, age_days: float) -> Status:
        for limit, statuses, weights in STATUS_BY_AGE:
            if age_days < limit:
                return self.rng.choices(statuses, weights)[0]
        raise AssertionError("the last age bucket has no limit")

    def _kinds(self, status: Status) -> list[str]:
        """Who writes each message: c(ustomer), a(gent reply) or n(ote), in order."""
        rng = self.rng
        if status == NEW:
            kinds = ["c", "c"] if rng.random() < 0.2 else ["c"]
            return kinds + ["n"] if rng.random() < 0.05 else kinds
        total = rng.choices(MESSAGE_COUNTS, MESSAGE_COUNT_WEIGHTS)[0]
        kinds, customer_next = ["c"], False
        while len(kinds) < total:
            if kinds[-1] != "n" and rng.random() < 0.15:
                kinds.append("n")
            else:
                kinds.append("c" if customer_next else "a")
                customer_next = not customer_next
        if "a" not in kinds:
            kinds.append("a")
        written = "".join(kinds)
        if status != OPEN and written.rfind("c") > written.rfind("a"):
            # Pending, resolved and closed tickets wait on the customer: the agent spoke last.
            kinds = kinds[: written.rfind("c")]
        return kinds

    def _timeline(self, status: Status, age: float, kinds: list[str]):
        """Seconds after creation of each message, and of resolving and closing."""
        rng, room = self.rng, age - 300.0  # the newest event still lies minutes in the past
        resolved = closed = None
        if status == NEW:
            duration = min(rng.expovariate(1 / 3600), room / 2)
        elif status == RESOLVED:
            # Resolved within the reopen window, or the periodic job would close it.
            low = max(60.0 * len(kinds), age - self.window * 0.9)
            resolved = rng.uniform(low, room)
            duration = resolved - rng.uniform(10, 60)
        elif status == CLOSED:
            duration = min(rng.expovariate(1 / (2 * DAY)) + 60 * len(kinds), room / 2)
            resolved = duration + rng.uniform(60, 3600)
            if rng.random() < 0.8 and resolved + self.window + 3600 < room:
                closed = resolved + self.window + rng.uniform(0, 3600)  # auto-closed
            else:
                resolved, closed = None, resolved  # closed by the agent right away
        else:
            duration = min(rng.expovariate(1 / (3 * DAY)) + 60 * len(kinds), room)
        points = sorted(rng.random() for _ in range(len(kinds) - 2))
        offsets = [0.0] + [p * duration + n for n, p in enumerate(points, 1)]
        if len(kinds) > 1:
            offsets.append(duration + len(kinds))
        return offsets, resolved, closed

    def _plan(self, n: int):
        """One ticket row with its messages, tags and audit rows (ticket ids filled in later)."""
        rng, now = self.rng, self.now
        number = self.first_number + n
        age = self.span * (self.count - n - rng.random()) / self.count + 600.0
        created = now - timedelta(seconds=age)
        contact_id, org_id, user_id, who, email = self.requesters[
            int(len(self.requesters) * rng.random() ** 2)  # some customers write a lot
        ]
        topic = pick_topic(rng, who.lang)
        status = self._status(age / DAY)
        kinds = self._kinds(status)
        offsets, resolved, closed = self._timeline(status, age, kinds)
        team_id = self.teams[topic.team]
        assignee = None if status == NEW else rng.choice(self.team_agents[team_id])
        if user_id is not None:
            channel = rng.choices((Channel.PORTAL, Channel.EMAIL, Channel.API), (60, 35, 5))[0]
        else:
            channel = rng.choices((Channel.EMAIL, Channel.AGENT, Channel.API), (82, 12, 6))[0]
        reply_channel = Channel.PORTAL if channel == Channel.PORTAL else Channel.EMAIL
        text = Conversation(rng, topic, who, self.agents.get(assignee))
        domain = email.rpartition("@")[2]
        messages = []
        first_response = None
        for i, (kind, offset) in enumerate(zip(kinds, offsets, strict=True)):
            at = created + timedelta(seconds=offset)
            from_customer = kind == "c"
            if kind == "a" and first_response is None:
                first_response = at
            last_agent_reply = kind == "a" and "a" not in kinds[i + 1 :]
            resolving = last_agent_reply and status in (RESOLVED, CLOSED)
            via = (channel if i == 0 else reply_channel) if from_customer else Channel.AGENT
            by_mail = via == Channel.EMAIL
            messages.append(
                {
                    "ticket_id": None,
                    "kind": MessageKind.NOTE if kind == "n" else MessageKind.REPLY,
                    "channel": via,
                    "author_user_id": user_id if from_customer else assignee or self._any_agent(),
                    "author_contact_id": contact_id if from_customer else None,
                    "body_text": text.message(kind, i, resolving),
                    "created_at": at,
                    "mail_message_id": f"<{number}.{i}.{self.run}@{domain}>" if by_mail else None,
                }
            )
        last = created + timedelta(seconds=max(offsets[-1], resolved or 0, closed or 0))
        ticket = {
            "number": number,
            "subject": text.subject,
            "status": status,
            "priority": rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0],
            "channel": channel,
            "requester_id": contact_id,
            "organization_id": org_id,
            "assignee_id": assignee,
            "team_id": team_id if assignee or rng.random() < 0.5 else None,
            "created_at": created,
            # Assigning, tagging or the status change come a moment after the last message.
            "updated_at": last + timedelta(seconds=rng.uniform(1, 90)),
            "first_response_at": first_response,
            "resolved_at": created + timedelta(seconds=resolved) if resolved else None,
            "closed_at": created + timedelta(seconds=closed) if closed else None,
            "version": 1,
        }
        tags = self._pick_tags(topic.tags)
        # Only the change that left the ticket in its status: history without the bulk.
        audits = [self._status_audit(ticket, assignee)] if status != NEW else []
        return ticket, messages, tags, audits

    def _any_agent(self) -> int:
        return self.rng.choice(self.agent_ids)

    def _pick_tags(self, topic_tags: tuple[str, ...]) -> list[int]:
        how_many = self.rng.choices((0, 1, 2, 3), (25, 40, 25, 10))[0]
        pool = list(dict.fromkeys(topic_tags + tuple(self.rng.sample(GENERIC_TAGS, 2))))
        return [self.tags[name] for name in self.rng.sample(pool, min(how_many, len(pool)))]

    def _audit(self, at, user_id, contact_id, label, action, old, new) -> dict:
        return {
            "ticket_id": None,
            "actor_user_id": user_id,
            "actor_contact_id": contact_id,
            "actor_label": label[:200],
            "action": action,
            "old_value": str(old),
            "new_value": str(new),
            "created_at": at,
        }

    def _status_audit(self, ticket: dict, assignee: int) -> dict:
        """The last status change, as the services would have recorded it."""
        status = ticket["status"]
        label = self.agent_labels[assignee]
        if status == CLOSED and ticket["resolved_at"] is not None:
            return self._audit(
                ticket["closed_at"], None, None, "system", "status", RESOLVED, status
            )
        old = {OPEN: NEW, PENDING: OPEN, RESOLVED: OPEN, CLOSED: OPEN}[status]
        at = ticket["resolved_at"] or ticket["closed_at"] or ticket["first_response_at"]
        return self._audit(at, assignee, None, label, "status", old, status)
