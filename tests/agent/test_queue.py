"""The queue: built-in views with counts, filters, saved views, keyset pages, bulk actions."""

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from helpdesk.accounts.actor import Actor
from helpdesk.contacts.services import find_or_create_contact
from helpdesk.extensions import db
from helpdesk.tickets import queries, services
from helpdesk.tickets.models import Channel, Priority, Ticket
from helpdesk.tickets.queries import QueueFilter, parse_filter
from helpdesk.tickets.states import Status
from tests.agent.conftest import as_actor, page


def numbers_on(html: str) -> list[int]:
    """Ticket numbers in the queue table, top to bottom."""
    return [int(n) for n in re.findall(r'<tr data-ticket="(\d+)"', html)]


def count_of(html: str, title: str) -> str:
    match = re.search(rf"<span>{re.escape(title)}</span><span class=\"count\">([^<]+)<", html)
    assert match, f"no count for {title}"
    return match.group(1)


@pytest.fixture
def tickets(make, desk):
    """A spread of tickets: some Alice's team's, one unrouted, one Billing's."""
    system = Actor.system()
    t = {}
    t["new"] = make.ticket(desk.carol, subject="New in support", team=desk.support)
    t["mine"] = make.ticket(desk.carol, subject="Alice works it", team=desk.support)
    services.assign(t["mine"], system, assignee=desk.alice)
    t["pending"] = make.ticket(desk.carol, subject="Waiting on Carol", team=desk.support)
    services.change_status(t["pending"], as_actor(desk.alice), Status.PENDING)
    t["resolved"] = make.ticket(desk.carol, subject="Fixed yesterday", team=desk.support)
    services.change_status(t["resolved"], as_actor(desk.alice), Status.RESOLVED)
    t["unrouted"] = make.ticket(desk.carol, subject="Nobody routed this")
    t["billing"] = make.ticket(desk.carol, subject="Billing only", team=desk.billing)
    db.session.commit()
    return t


def test_each_built_in_view_lists_its_tickets_with_a_live_count(alice_client, tickets):
    expected = {
        "open": {"New in support", "Alice works it", "Waiting on Carol", "Nobody routed this"},
        "unassigned": {"New in support", "Waiting on Carol", "Nobody routed this"},
        "mine": {"Alice works it"},
        "team": {"New in support", "Alice works it", "Waiting on Carol"},
        "pending": {"Waiting on Carol"},
        "resolved": {"Fixed yesterday"},
    }
    subjects = {t.number: t.subject for t in tickets.values()}
    for key, wanted in expected.items():
        html = page(alice_client.get(f"/agent/?view={key}"))
        assert {subjects[n] for n in numbers_on(html)} == wanted, key
        title = queries.builtin_view(key).title
        assert count_of(html, title) == str(len(wanted))


def test_the_default_view_is_the_open_tickets_newest_update_first(alice_client, desk, tickets):
    services.add_note(tickets["new"], as_actor(desk.alice), body="Looking into it.")
    db.session.commit()

    html = page(alice_client.get("/agent/"))

    assert "<h1>Open tickets</h1>" in html
    assert numbers_on(html)[0] == tickets["new"].number


def test_counts_stop_at_the_cap(make, desk, alice_client, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    for i in range(5):
        make.ticket(desk.carol, subject=f"Load {i}", team=desk.support)
    db.session.commit()

    html = page(alice_client.get("/agent/"))

    assert count_of(html, "Open tickets") == "3+"
    assert count_of(html, "Pending") == "0"


@pytest.mark.parametrize(
    ("args", "subjects"),
    [
        ({"status": ["pending", "resolved"]}, {"Waiting on Carol", "Fixed yesterday"}),
        ({"priority": ["urgent"]}, {"Urgent printer"}),
        ({"assignee": "me"}, {"Alice works it"}),
        (
            {"assignee": "none", "status": ["new"]},
            {"New in support", "Nobody routed this", "Urgent printer"},
        ),
        ({"team": "none"}, {"Nobody routed this"}),
        ({"requester": "dave@example.com"}, {"Urgent printer"}),
        ({"tag": "printer"}, {"Urgent printer"}),
        ({"channel": ["email"]}, {"Urgent printer"}),
        ({"organization": "ORG"}, {"Urgent printer"}),
        ({"tag": "printer", "priority": ["low"]}, set()),
    ],
)
def test_filters_combine_into_the_tickets_they_describe(
    make, desk, tickets, alice_client, args, subjects
):
    org = make.organization("Dave Corp", domains=["example.org"])
    dave = find_or_create_contact("dave@example.com", "Dave")
    dave.organization = org
    urgent = make.ticket(
        dave,
        subject="Urgent printer",
        team=desk.support,
        priority=Priority.URGENT,
        channel=Channel.EMAIL,
    )
    services.tag(urgent, Actor.system(), add=["printer"])
    db.session.commit()
    args = {k: (str(org.id) if v == "ORG" else v) for k, v in args.items()}

    html = page(alice_client.get("/agent/", query_string=args))

    numbers = numbers_on(html)
    shown = set(db.session.scalars(select(Ticket.subject).where(Ticket.number.in_(numbers))))
    assert shown == subjects


def test_a_filter_by_date_range_uses_whole_days(make, desk, alice_client):
    old = make.ticket(desk.carol, subject="From March", team=desk.support)
    old.created_at = datetime(2026, 3, 10, 23, 59)
    new = make.ticket(desk.carol, subject="From April", team=desk.support)
    new.created_at = datetime(2026, 4, 1, 0, 0)
    db.session.commit()

    html = page(
        alice_client.get("/agent/?created_from=2026-03-10&created_to=2026-03-31&status=new")
    )

    assert numbers_on(html) == [old.number]


def test_bad_filter_values_are_explained_not_crashed_on(alice_client, tickets):
    response = alice_client.get("/agent/?status=bogus&created_from=yesterday")

    assert response.status_code == 400
    assert "Unknown status" in page(response)


def test_parse_filter_round_trips_through_query_arguments():
    f = parse_filter(
        {
            "status": ["new", "open"],
            "assignee": ["me"],
            "tag": ["VIP"],
            "updated_from": ["2026-01-02"],
        }
    )

    assert f == QueueFilter(
        status=("new", "open"), assignee="me", tag="vip", updated_from=datetime(2026, 1, 2).date()
    )
    assert parse_filter(f.to_args()) == f


def _tied_tickets(make, desk, count: int) -> list[Ticket]:
    """`count` open tickets sharing a handful of updated_at values (ties on purpose)."""
    base = datetime(2026, 5, 1, 12, 0)
    made = []
    for i in range(count):
        ticket = make.ticket(desk.carol, subject=f"Tie {i}", team=desk.support)
        ticket.updated_at = base + timedelta(seconds=i // 4)  # groups of four tie
        made.append(ticket)
    db.session.commit()
    return made


def _walk(client, url: str, direction: str = "next") -> list[list[int]]:
    pages = []
    while url:
        html = page(client.get(url))
        pages.append(numbers_on(html))
        match = re.search(rf'rel="{direction}" href="([^"]+)"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
        assert len(pages) < 50, "the pager never ends"
    return pages


@pytest.mark.parametrize("sort", ["updated", "waiting", "created", "priority"])
def test_keyset_pages_neither_repeat_nor_skip_tickets_that_tie(make, desk, alice_client, sort):
    made = _tied_tickets(make, desk, 17)
    for ticket in made[::3]:
        ticket.priority = Priority.HIGH
    db.session.commit()

    pages = _walk(alice_client, f"/agent/?view=open&size=5&sort={sort}")

    seen = [n for p in pages for n in p]
    assert [len(p) for p in pages] == [5, 5, 5, 2]
    assert sorted(seen) == sorted(t.number for t in made)
    assert len(set(seen)) == len(seen)
    key = queries.SORTS[sort].keys
    rows = {t.number: t for t in made}
    values = [tuple(k.value(rows[n]) for k in key) for n in seen]
    descending = [k.descending for k in key]
    expected = sorted(values, key=lambda v: _sort_key(v, descending))
    assert values == expected


def _sort_key(values, descending):
    numeric = [v.timestamp() if isinstance(v, datetime) else v for v in values]
    return tuple(-v if d else v for v, d in zip(numeric, descending, strict=True))


def test_previous_pages_walk_back_the_same_way(make, desk, alice_client):
    made = _tied_tickets(make, desk, 12)
    forward = _walk(alice_client, "/agent/?view=open&size=5")
    last_url = None
    url = "/agent/?view=open&size=5"
    while url:  # go to the last page
        html = page(alice_client.get(url))
        last_url = url
        match = re.search(r'rel="next" href="([^"]+)"', html)
        url = match.group(1).replace("&amp;", "&") if match else None

    backward = _walk(alice_client, last_url, direction="prev")

    assert backward == list(reversed(forward))
    assert sum(len(p) for p in forward) == len(made)


def test_a_ticket_updated_between_pages_is_neither_repeated_nor_lost_from_the_rest(
    make, desk, alice_client
):
    made = _tied_tickets(make, desk, 10)
    first = page(alice_client.get("/agent/?view=open&size=5"))
    next_url = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    # A ticket from page two gets an update: it moves to the top, out of page two's range.
    moved = db.session.get(Ticket, made[0].id)
    moved.updated_at = datetime(2026, 6, 1)
    db.session.commit()

    second = numbers_on(page(alice_client.get(next_url)))

    assert made[0].number not in second
    assert not set(second) & set(numbers_on(first))
    assert len(second) == 4


def test_a_damaged_cursor_is_explained(alice_client, tickets):
    response = alice_client.get("/agent/?after=not-a-cursor")

    assert response.status_code == 400
    assert "page link is damaged" in page(response)


def test_an_agent_saves_a_personal_view_that_others_do_not_see(alice_client, bob_client, tickets):
    response = alice_client.post(
        "/agent/views",
        data={"name": "My pending", "status": ["pending"], "assignee": "", "sort": "waiting"},
    )
    assert response.status_code == 302
    saved_url = response.headers["Location"]

    html = page(alice_client.get(saved_url))
    assert "<h1>My pending</h1>" in html
    assert {n for n in numbers_on(html)} == {tickets["pending"].number}
    assert count_of(html, "My pending") == "1"
    assert "My pending" not in page(bob_client.get("/agent/"))


def test_a_shared_view_shows_each_agent_their_own_tickets(alice_client, bob_client, desk, make):
    mine_for_bob = make.ticket(desk.carol, subject="Bob's own", team=desk.billing)
    services.assign(mine_for_bob, Actor.system(), assignee=desk.bob)
    db.session.commit()
    alice_client.post(
        "/agent/views", data={"name": "Assigned to me", "assignee": "me", "shared": "y"}
    )

    html = page(bob_client.get("/agent/"))
    link = re.search(r'href="(/agent/\?saved=\d+)"', html).group(1)

    assert numbers_on(page(bob_client.get(link))) == [mine_for_bob.number]
    assert "Delete the view" not in html  # only its owner (or an admin) deletes it
    refused = bob_client.post(link.replace("/agent/?saved=", "/agent/views/") + "/delete")
    assert refused.status_code == 302
    assert "Assigned to me" in page(bob_client.get("/agent/"))


def test_saving_a_view_needs_a_name_and_a_filter(alice_client, tickets):
    alice_client.post("/agent/views", data={"name": "Empty"})

    assert "Choose at least one filter to save." in page(alice_client.get("/agent/"))


def test_bulk_assign_reports_each_ticket_it_could_not_change(alice_client, desk, tickets):
    chosen = [tickets["new"].number, tickets["unrouted"].number, tickets["billing"].number]

    response = alice_client.post(
        "/agent/bulk",
        data={"ticket": chosen, "action": "assign", "assignee": "me", "next": "/agent/?view=mine"},
    )

    assert response.headers["Location"].endswith("/agent/?view=mine")
    html = page(alice_client.get("/agent/?view=mine"))
    assert f"Done for 2 ticket(s): #{chosen[0]}, #{chosen[1]}." in html
    assert f"#{chosen[2]}: There is no ticket #{chosen[2]}." in html
    db.session.expire_all()
    assert tickets["new"].assignee_id == desk.alice.id
    assert tickets["billing"].assignee_id is None


def test_bulk_status_change_keeps_the_ones_that_worked(alice_client, tickets):
    chosen = [tickets["new"].number, tickets["resolved"].number]

    alice_client.post(
        "/agent/bulk", data={"ticket": chosen, "action": "status", "status": "pending"}
    )

    html = page(alice_client.get("/agent/"))
    assert f"#{tickets['resolved'].number}: A ticket cannot go from resolved to pending." in html
    db.session.expire_all()
    assert tickets["new"].status == Status.PENDING
    assert tickets["resolved"].status == Status.RESOLVED


@pytest.mark.parametrize(
    ("action", "field", "value", "check"),
    [
        ("priority", "priority", "high", lambda t: t.priority == Priority.HIGH),
        ("tag", "tag", "vip, refund", lambda t: [x.name for x in t.tags] == ["refund", "vip"]),
        ("team", "team", "BILLING", lambda t: t.team.name == "Billing"),
    ],
)
def test_bulk_actions_change_every_selected_ticket(
    alice_client, desk, tickets, action, field, value, check
):
    value = str(desk.billing.id) if value == "BILLING" else value
    chosen = [tickets["new"], tickets["unrouted"]]

    alice_client.post(
        "/agent/bulk", data={"ticket": [t.number for t in chosen], "action": action, field: value}
    )

    db.session.expire_all()
    assert all(check(t) for t in chosen)


def test_bulk_merge_moves_the_conversations_into_the_target(alice_client, tickets):
    target = tickets["new"]
    sources = [tickets["unrouted"], tickets["mine"]]

    alice_client.post(
        "/agent/bulk",
        data={
            "ticket": [t.number for t in sources] + [target.number],
            "action": "merge",
            "target": f"#{target.number}",
        },
    )

    db.session.expire_all()
    assert all(t.merged_into_id == target.id and t.status == Status.CLOSED for t in sources)
    assert {m.ticket_id for m in target.messages} == {target.id}
    assert len([m for m in target.messages if m.kind.value == "reply"]) == 3


def test_bulk_with_nothing_selected_says_so(alice_client, tickets):
    alice_client.post("/agent/bulk", data={"action": "status", "status": "open"})

    assert "Select at least one ticket." in page(alice_client.get("/agent/"))


def test_the_partial_index_condition_names_exactly_the_open_statuses():
    from helpdesk.tickets.models import OPEN_STATUS_SQL
    from helpdesk.tickets.states import OPEN_STATUSES

    listed = set(re.findall(r"'(\w+)'", OPEN_STATUS_SQL))

    assert listed == {s.value for s in OPEN_STATUSES} == set(queries.OPEN)


def test_counts_above_the_cap_read_as_cap_plus():
    assert queries.format_count(queries.COUNT_CAP) == str(queries.COUNT_CAP)
    assert queries.format_count(queries.COUNT_CAP + 1) == f"{queries.COUNT_CAP}+"


def test_sqlite_planner_statistics_are_sampled_by_periodic_work(app, tickets):
    from helpdesk.periodic import TASKS
    from helpdesk.tickets.statistics import refresh_planner_statistics

    assert "database.planner_statistics" in TASKS
    result = refresh_planner_statistics()
    db.session.commit()

    if db.engine.dialect.name == "sqlite":
        rows = db.session.execute(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'tickets'"))
        assert result and rows.scalar() > 0
    else:
        assert result is None  # autovacuum's job


@pytest.mark.parametrize("window", [3, 1000])
def test_tag_filter_pages_are_complete_whichever_way_they_are_found(
    make, desk, alice_client, monkeypatch, window
):
    monkeypatch.setattr(queries, "WALK_WINDOW", window)  # 3: the tag is too rare for a walk
    made = _tied_tickets(make, desk, 24)
    tagged = made[::2]
    for ticket in tagged:
        services.tag(ticket, Actor.system(), add=["vip"])
    for ticket in made:
        ticket.updated_at = datetime(2026, 5, 1, 12, 0) + timedelta(seconds=ticket.id // 3)
    db.session.commit()

    pages = _walk(alice_client, "/agent/?tag=vip&size=4")

    seen = [n for p in pages for n in p]
    assert sorted(seen) == sorted(t.number for t in tagged) and len(set(seen)) == len(seen)
    rows = {t.number: t for t in tagged}
    assert seen == sorted(seen, key=lambda n: (rows[n].updated_at, rows[n].id), reverse=True)
