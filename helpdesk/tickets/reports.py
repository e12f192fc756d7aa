"""The dashboard's figures: open backlog, tickets created and resolved per day, response times.

Every query counts only tickets the actor may see (`visible_tickets_filter`, as the queue).
Days are the business's days: a period is cut at local midnights of its time zone, worked out
here (daylight saving included) and handed to the database as UTC instants, so the same
statements run on SQLite and PostgreSQL.

Percentiles interpolate linearly between the two nearest durations, as PostgreSQL's
percentile_cont does: the p-th percentile of n sorted values sits at position p * (n - 1).
Over 1, 2, 3, 4 and 10 hours the median is 3 h and the 90th percentile 7.6 h.
"""

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytz
from sqlalchemy import ColumnElement, case, extract, func, select
from sqlalchemy.dialects import postgresql

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Team, User
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from helpdesk.tickets.permissions import visible_tickets_filter
from helpdesk.tickets.queries import OPEN, OPEN_CLAUSE
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow

PERIODS = (7, 30)
DEFAULT_PERIOD = 7


@dataclass(frozen=True)
class Period:
    """The last `days` local days up to today; `bounds` are their midnights in UTC (days + 1)."""

    days: int
    timezone: str
    bounds: tuple[datetime, ...]
    first_day: date

    @property
    def start(self) -> datetime:
        return self.bounds[0]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]

    def day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)


@dataclass(frozen=True)
class Share:
    """One row of the backlog: `key` is what the queue's filter takes ("none" for nobody)."""

    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Backlog:
    total: int
    by_status: list[Share]
    by_team: list[Share]
    by_assignee: list[Share]


@dataclass(frozen=True)
class DayFlow:
    day: date
    created: int
    resolved: int


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile in seconds over `tickets` tickets (None when there are none)."""

    tickets: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class ResponseTimes:
    created: int  # tickets created in the period
    first_response: Spread
    resolution: Spread


def period_ending(days: int, timezone: str, now: datetime | None = None) -> Period:
    """The period of `days` local days that ends with today (in `timezone`) at `now` (UTC)."""
    zone = pytz.timezone(timezone)
    today = pytz.utc.localize(now or utcnow()).astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    bounds = tuple(
        zone.localize(datetime.combine(first + timedelta(days=i), time.min))
        .astimezone(pytz.utc)
        .replace(tzinfo=None)
        for i in range(days + 1)
    )
    return Period(days=days, timezone=timezone, bounds=bounds, first_day=first)


def backlog(actor: Actor) -> Backlog:
    """Open tickets by status, by team and by assignee, in one pass over the open tickets."""
    rows = db.session.execute(
        select(Ticket.status, Ticket.team_id, Ticket.assignee_id, func.count())
        .where(visible_tickets_filter(actor), OPEN_CLAUSE)
        .group_by(Ticket.status, Ticket.team_id, Ticket.assignee_id)
    ).all()
    statuses, teams, assignees = Counter(), Counter(), Counter()
    for status, team_id, assignee_id, count in rows:
        statuses[Status(status).value] += count
        teams[team_id] += count
        assignees[assignee_id] += count
    team_names = _names(Team, teams)
    user_names = _names(User, assignees)
    return Backlog(
        total=sum(statuses.values()),
        by_status=[Share(s, s.title(), statuses[s]) for s in OPEN],
        by_team=_shares(teams, team_names, "No team"),
        by_assignee=_shares(assignees, user_names, "Unassigned"),
    )


def _names(model, counts: Counter) -> dict[int, str]:
    ids = [i for i in counts if i is not None]
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def _shares(counts: Counter, names: dict[int, str], nobody: str) -> list[Share]:
    shares = [
        Share("none" if i is None else str(i), nobody if i is None else names.get(i, "?"), n)
        for i, n in counts.items()
    ]
    return sorted(shares, key=lambda s: (-s.count, s.key != "none", s.label.lower()))


def flow(actor: Actor, period: Period) -> list[DayFlow]:
    """Tickets created and resolved on each day of the period; a quiet day counts 0."""
    created = _per_day(actor, period, Ticket.created_at)
    resolved = _per_day(actor, period, Ticket.resolved_at)
    return [
        DayFlow(period.day(i), created.get(i, 0), resolved.get(i, 0)) for i in range(period.days)
    ]


def _per_day(actor: Actor, period: Period, column) -> dict[int, int]:
    """{day index: count} for `column` in the period, bucketed by the database in one scan."""
    ends = period.bounds[1:]
    day = case(*((column < end, i) for i, end in enumerate(ends)), else_=len(ends) - 1)
    rows = db.session.execute(
        select(day, func.count())
        .where(visible_tickets_filter(actor), column >= period.start, column < period.end)
        .group_by(day)
    ).all()
    return {int(i): n for i, n in rows}


def _seconds_between(start, end) -> ColumnElement[float]:
    if db.engine.dialect.name == "postgresql":
        return extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def response_times(actor: Actor, period: Period) -> ResponseTimes:
    """Time to first response and to resolution of the tickets created in the period."""
    first = _seconds_between(Ticket.created_at, Ticket.first_response_at)
    resolved = _seconds_between(Ticket.created_at, Ticket.resolved_at)
    where = (
        visible_tickets_filter(actor),
        Ticket.created_at >= period.start,
        Ticket.created_at < period.end,
    )
    if db.engine.dialect.name == "postgresql":
        return _spreads_in_database(first, resolved, where)
    # SQLite has no percentile function: fetch the two durations (floats, nothing else).
    rows = db.session.execute(select(first, resolved).where(*where)).all()
    return ResponseTimes(
        created=len(rows),
        first_response=spread([r[0] for r in rows if r[0] is not None]),
        resolution=spread([r[1] for r in rows if r[1] is not None]),
    )


def _spreads_in_database(first, resolved, where) -> ResponseTimes:
    """PostgreSQL sorts and picks itself (percentile_cont skips the NULLs of open tickets)."""
    inner = select(first.label("first"), resolved.label("resolved")).where(*where).subquery()
    fractions = postgresql.array([0.5, 0.9])
    columns = []
    for column in (inner.c.first, inner.c.resolved):
        # One call with both fractions: one sort per column.
        columns += [func.count(column), func.percentile_cont(fractions).within_group(column)]
    row = db.session.execute(select(func.count(), *columns).select_from(inner)).one()

    def _spread(count, picks) -> Spread:
        if not count:
            return Spread(0, None, None)
        return Spread(count, float(picks[0]), float(picks[1]))

    return ResponseTimes(row[0], _spread(*row[1:3]), _spread(*row[3:5]))


def spread(durations: list[float]) -> Spread:
    """Median and 90th percentile of `durations` (seconds), as percentile_cont computes them."""
    if not durations:
        return Spread(0, None, None)
    values = sorted(float(d) for d in durations)
    return Spread(len(values), percentile(values, 0.5), percentile(values, 0.9))


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks; position fraction * (n - 1)."""
    position = fraction * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    weight = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * weight
