"""The dashboard: backlog, flow and response times, drawn as inline SVG and exported as CSV."""

import csv
import io
from dataclasses import dataclass

from babel.dates import format_date
from flask import Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from helpdesk.accounts.auth import current_actor
from helpdesk.agent import bp
from helpdesk.agent.display import locale_code, number
from helpdesk.agent.nav import add_nav_item
from helpdesk.settings import get_setting
from helpdesk.tickets import reports

add_nav_item(_l("Dashboard"), "agent.dashboard", order=15)

# The flow chart's drawing box (SVG units); CSS scales it to the screen's width.
WIDTH, HEIGHT = 440, 200
LEFT, RIGHT, TOP, BOTTOM = 32, 20, 10, 24
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _period() -> reports.Period:
    days = request.args.get("days", type=int)
    if days not in reports.PERIODS:
        days = reports.DEFAULT_PERIOD
    return reports.period_ending(days, get_setting("timezone"))


@bp.get("/dashboard")
def dashboard():
    actor = current_actor()
    period = _period()
    days = reports.flow(actor, period)
    return render_template(
        "agent/dashboard.html",
        period=period,
        periods=reports.PERIODS,
        backlog=reports.backlog(actor),
        days=days,
        chart=flow_chart(days),
        times=reports.response_times(actor, period),
        duration=duration,
    )


@bp.get("/dashboard/<table>.csv")
def dashboard_csv(table: str):
    actor = current_actor()
    period = _period()
    if table == "backlog":
        rows = backlog_rows(reports.backlog(actor))
    elif table == "flow":
        rows = flow_rows(reports.flow(actor, period))
    elif table == "response-times":
        rows = response_rows(reports.response_times(actor, period))
    else:
        abort(404)
    suffix = "" if table == "backlog" else f"-{period.days}d"
    filename = f"{table}{suffix}-{period.day(period.days - 1).isoformat()}.csv"
    return Response(
        to_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def backlog_rows(backlog: reports.Backlog) -> list[list]:
    rows: list[list] = [["group", "name", "open tickets"]]
    for group, shares in (
        ("status", backlog.by_status),
        ("team", backlog.by_team),
        ("assignee", backlog.by_assignee),
    ):
        rows += [[group, s.label, s.count] for s in shares]
    return rows


def flow_rows(days: list[reports.DayFlow]) -> list[list]:
    return [["date", "created", "resolved"]] + [
        [d.day.isoformat(), d.created, d.resolved] for d in days
    ]


def response_rows(times: reports.ResponseTimes) -> list[list]:
    def hours(seconds: float | None) -> str:
        return "" if seconds is None else f"{seconds / 3600:.2f}"

    return [["measure", "tickets", "median hours", "p90 hours"]] + [
        [name, s.tickets, hours(s.median), hours(s.p90)]
        for name, s in (
            ("first response", times.first_response),
            ("resolution", times.resolution),
        )
    ]


def safe_cell(value):
    """A value a spreadsheet shows as text: names are user-supplied and may look like formulas."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def duration(seconds: float | None) -> str:
    """A response time as people say it: 40 min, 3.5 h, 2.1 days; "—" for none."""
    if seconds is None:
        return "—"
    minutes = seconds / 60
    if minutes < 60:
        return _("%(n)s min", n=max(0, round(minutes)))
    hours = minutes / 60
    if hours < 48:
        return _("%(n)s h", n=number(f"{hours:.1f}".removesuffix(".0")))
    return _("%(n)s days", n=number(f"{hours / 24:.1f}".removesuffix(".0")))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # "created" or "resolved"
    title: str


def _bar_title(day: str, value: int, kind: str) -> str:
    """A bar's tooltip: "2026-11-27: 4 created" (the same English for 1 or more)."""
    if kind == "created":
        return ngettext("%(day)s: %(num)s created", "%(day)s: %(num)s created", value, day=day)
    return ngettext("%(day)s: %(num)s resolved", "%(day)s: %(num)s resolved", value, day=day)


def flow_chart(days: list[reports.DayFlow]) -> dict:
    """Bar positions for the per-day chart: a created and a resolved bar for each day."""
    top = max([1] + [max(d.created, d.resolved) for d in days])
    top += top % 2 if top > 1 else 0  # even, so the middle gridline is a whole number
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar_w = slot * 0.4
    bars, labels = [], []
    every = 1 if len(days) <= 7 else 5
    for i, d in enumerate(days):
        x = LEFT + i * slot + slot * 0.1
        for kind, value, offset in (("created", d.created, 0), ("resolved", d.resolved, bar_w)):
            h = plot_h * value / top
            title = _bar_title(d.day.isoformat(), value, kind)
            bars.append(Bar(x + offset, TOP + plot_h - h, bar_w, h, kind, title))
        if (len(days) - 1 - i) % every == 0:
            text = format_date(d.day, "dd MMM", locale=locale_code())
            labels.append({"x": LEFT + (i + 0.5) * slot, "text": text})
    ticks = [{"y": TOP + plot_h * (1 - f), "value": int(top * f)} for f in (0, 0.5, 1)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "baseline": TOP + plot_h,
        "bars": bars,
        "labels": labels,
        "ticks": ticks if top > 1 else [ticks[0], ticks[2]],
    }
