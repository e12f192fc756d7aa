"""The dashboard: backlog, per-day flow, response-time percentiles, CSV export, visibility."""

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from helpdesk.accounts.actor import Actor
from helpdesk.extensions import db
from helpdesk.settings import set_setting
from helpdesk.tickets import reports, services
from helpdesk.tickets.models import Ticket
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow
from tests.agent.conftest import as_actor, page
from tests.conftest import login

# Berlin is UTC+1 in November: local days start at 23:00 UTC the evening before.
NOW = datetime(2026, 11, 27, 12, 0)
HOUR = 3600


def stamp(ticket: Ticket, **values) -> None:
    """Rewrite the ticket's timestamps, as if it had lived at another time."""
    db.session.execute(update(Ticket).where(Ticket.id == ticket.id).values(**values))
    db.session.expire_all()


def rows_of(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def backlog_tickets(make, desk):
    """Support: 2 new (1 Alice's), 1 pending; Billing: 1 open (Bob's); 1 unrouted new;
    1 resolved Support ticket that the backlog must leave out."""
    system = Actor.system()
    make.ticket(desk.carol, subject="Support new", team=desk.support)
    mine = make.ticket(desk.carol, subject="Alice's", team=desk.support)
    services.assign(mine, system, assignee=desk.alice)
    pending = make.ticket(desk.carol, subject="Waiting", team=desk.support)
    services.change_status(pending, as_actor(desk.alice), Status.PENDING)
    billing = make.ticket(desk.carol, subject="Billing", team=desk.billing)
    services.assign(billing, system, assignee=desk.bob)
    services.change_status(billing, as_actor(desk.bob), Status.OPEN)
    make.ticket(desk.carol, subject="Unrouted")
    done = make.ticket(desk.carol, subject="Done", team=desk.support)
    services.change_status(done, as_actor(desk.alice), Status.RESOLVED)
    db.session.commit()


def counts(shares) -> dict[str, int]:
    return {s.label: s.count for s in shares}


def test_backlog_counts_open_tickets_by_status_team_and_assignee(desk, backlog_tickets):
    backlog = reports.backlog(as_actor(desk.admin))

    assert backlog.total == 5
    assert counts(backlog.by_status) == {"New": 3, "Open": 1, "Pending": 1}
    assert counts(backlog.by_team) == {"Support": 3, "Billing": 1, "No team": 1}
    assert counts(backlog.by_assignee) == {"Unassigned": 3, "Alice Agent": 1, "Bob Billing": 1}


def test_an_agent_counts_only_the_tickets_their_teams_may_see(desk, backlog_tickets):
    alice = reports.backlog(as_actor(desk.alice))
    bob = reports.backlog(as_actor(desk.bob))

    assert counts(alice.by_team) == {"Support": 3, "No team": 1}
    assert "Billing" not in counts(alice.by_team) and alice.total == 4
    assert counts(bob.by_team) == {"Billing": 1, "No team": 1}


def test_the_page_shows_only_what_the_agent_may_see(alice_client, backlog_tickets):
    html = page(alice_client.get("/agent/dashboard"))

    assert "Open backlog: 4" in html
    assert "Bob Billing" not in html


def test_flow_counts_per_local_day_and_a_quiet_day_shows_zero(app, make, desk):
    set_setting("timezone", "Europe/Berlin")
    admin = as_actor(desk.admin)
    late = make.ticket(desk.carol, subject="Late evening in UTC")
    # 23:30 UTC on the 25th is 00:30 on the 26th in Berlin.
    stamp(late, created_at=datetime(2026, 11, 25, 23, 30), resolved_at=datetime(2026, 11, 27, 9))
    for hour in (8, 9):
        early = make.ticket(desk.carol, subject="Morning")
        stamp(early, created_at=datetime(2026, 11, 21, hour))
    too_old = make.ticket(desk.carol, subject="Before the period")
    stamp(too_old, created_at=datetime(2026, 11, 20, 22, 59))  # the 20th, 23:59 in Berlin

    days = reports.flow(admin, reports.period_ending(7, "Europe/Berlin", now=NOW))

    assert [d.day.isoformat() for d in days][0] == "2026-11-21"
    assert {d.day.isoformat(): (d.created, d.resolved) for d in days} == {
        "2026-11-21": (2, 0),
        "2026-11-22": (0, 0),
        "2026-11-23": (0, 0),
        "2026-11-24": (0, 0),
        "2026-11-25": (0, 0),
        "2026-11-26": (1, 0),
        "2026-11-27": (0, 1),
    }


def test_a_thirty_day_period_has_thirty_days_even_when_all_are_quiet(desk):
    days = reports.flow(as_actor(desk.admin), reports.period_ending(30, "UTC", now=NOW))

    assert len(days) == 30
    assert days[-1].day.isoformat() == "2026-11-27"
    assert all(d.created == 0 and d.resolved == 0 for d in days)


def test_a_one_day_period_counts_today(make, desk):
    ticket = make.ticket(desk.carol, subject="This morning")
    stamp(ticket, created_at=NOW - timedelta(hours=3))

    days = reports.flow(as_actor(desk.admin), reports.period_ending(1, "UTC", now=NOW))

    assert [(d.day.isoformat(), d.created) for d in days] == [("2026-11-27", 1)]


def known_durations(make, desk, now: datetime) -> None:
    """Five tickets created in the period, answered after 1, 2, 3, 4 and 10 hours; two of
    them resolved, after 5 and 20 hours; one more ticket never answered."""
    created = now - timedelta(days=2)
    for hours, resolved in ((1, None), (2, 5), (3, None), (4, 20), (10, None)):
        ticket = make.ticket(desk.carol, subject=f"Answered after {hours} h")
        stamp(
            ticket,
            created_at=created,
            first_response_at=created + timedelta(hours=hours),
            resolved_at=created + timedelta(hours=resolved) if resolved else None,
        )
    silent = make.ticket(desk.carol, subject="Nobody answered")
    stamp(silent, created_at=created)
    older = make.ticket(desk.carol, subject="Answered late, created long ago")
    stamp(older, created_at=now - timedelta(days=40), first_response_at=now - timedelta(days=1))
    db.session.commit()


def test_percentiles_over_known_durations(make, desk):
    known_durations(make, desk, NOW)

    times = reports.response_times(as_actor(desk.admin), reports.period_ending(7, "UTC", NOW))

    assert times.created == 6
    assert times.first_response.tickets == 5
    assert times.first_response.median == pytest.approx(3 * HOUR)
    # Linear interpolation at 0.9 * (5 - 1) = 3.6: 4 h + 0.6 * (10 h - 4 h).
    assert times.first_response.p90 == pytest.approx(7.6 * HOUR)
    assert times.resolution.tickets == 2
    assert times.resolution.median == pytest.approx(12.5 * HOUR)
    assert times.resolution.p90 == pytest.approx(18.5 * HOUR)


def test_the_page_shows_response_times_and_a_dash_where_there_are_none(admin_client, make, desk):
    known_durations(make, desk, utcnow())

    html = page(admin_client.get("/agent/dashboard"))

    assert "Over the 6 tickets created in the last 7 days." in html
    assert '<td class="num">3 h</td><td class="num">7.6 h</td><td class="num">5</td>' in html
    assert '<td class="num">12.5 h</td><td class="num">18.5 h</td><td class="num">2</td>' in html
    assert "Over the 6 tickets" in page(admin_client.get("/agent/dashboard?days=30"))
    stamp_all_old = update(Ticket).values(created_at=utcnow() - timedelta(days=90))
    db.session.execute(stamp_all_old)
    db.session.commit()
    html = page(admin_client.get("/agent/dashboard"))
    assert '<td class="num">—</td><td class="num">—</td><td class="num">0</td>' in html


def test_the_page_draws_its_charts_and_switches_the_period(alice_client, backlog_tickets):
    week = page(alice_client.get("/agent/dashboard"))
    month = page(alice_client.get("/agent/dashboard?days=30"))
    odd = page(alice_client.get("/agent/dashboard?days=9999"))

    assert '<svg class="flow-chart"' in week and 'role="img"' in week
    assert week.count('class="bar-created"') == 7 and month.count('class="bar-created"') == 30
    assert odd.count('class="bar-created"') == 7
    assert 'svg class="hbar"' in week
    assert 'aria-current="page">Dashboard</a>' in week


def test_every_agent_sees_the_dashboard_in_the_navigation(bob_client):
    assert 'href="/agent/dashboard"' in page(bob_client.get("/agent/"))


def test_csv_exports_have_a_header_and_the_figures(admin_client, make, desk, backlog_tickets):
    backlog = rows_of(admin_client.get("/agent/dashboard/backlog.csv"))
    flow = rows_of(admin_client.get("/agent/dashboard/flow.csv?days=30"))
    times = rows_of(admin_client.get("/agent/dashboard/response-times.csv"))

    assert backlog[0] == ["group", "name", "open tickets"]
    assert ["team", "No team", "1"] in backlog and ["status", "New", "3"] in backlog
    assert ["assignee", "Unassigned", "3"] in backlog
    assert flow[0] == ["date", "created", "resolved"] and len(flow) == 31
    assert flow[-1] == [utcnow().date().isoformat(), "6", "1"]
    assert times[0] == ["measure", "tickets", "median hours", "p90 hours"]
    assert times[1][:2] == ["first response", "0"] and times[1][2:] == ["", ""]


def test_csv_defuses_names_a_spreadsheet_would_run_as_formulas(admin_client, make, desk):
    evil_team = make.team('=HYPERLINK("http://evil.example","x")')
    make.ticket(desk.carol, subject="Routed to a strange team", team=evil_team)
    plus = make.agent(name="+1 Caller", teams=[evil_team])
    ticket = make.ticket(desk.carol, subject="For the caller", team=evil_team)
    services.assign(ticket, Actor.system(), assignee=plus)
    db.session.commit()

    text = admin_client.get("/agent/dashboard/backlog.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))

    assert ["team", '\'=HYPERLINK("http://evil.example","x")', "2"] in rows
    assert ["assignee", "'+1 Caller", "1"] in rows
    assert '"\'=HYPERLINK(""http://evil.example"",""x"")"' in text  # quoted the csv way


def test_an_unknown_export_is_not_found(admin_client):
    assert admin_client.get("/agent/dashboard/passwords.csv").status_code == 404


def test_a_customer_gets_not_found(client, desk):
    login(client, desk.carol.email)

    assert client.get("/agent/dashboard").status_code == 404
    assert client.get("/agent/dashboard/backlog.csv").status_code == 404
