"""Queue queries: filters, built-in views, capped counts and keyset pagination.

Pure query builders over `visible_tickets_filter`: every statement here only ever selects
tickets the actor may see. Pages are fetched by cursor (the sort key of the last row seen),
never by OFFSET, so page 500 costs what page 1 costs and rows cannot repeat or vanish when
tickets change between two clicks.
"""

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    false,
    func,
    or_,
    select,
    text,
    tuple_,
)

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import team_members
from helpdesk.contacts.models import ContactEmail
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.i18n import N_
from helpdesk.tickets.models import OPEN_STATUS_SQL, Channel, Priority, Tag, Ticket, ticket_tags
from helpdesk.tickets.permissions import visible_tickets_filter
from helpdesk.tickets.states import OPEN_STATUSES, Status
from helpdesk.timeutil import utcnow

OPEN = tuple(s.value for s in Status if s in OPEN_STATUSES)
# The open statuses as literal SQL, the partial index ix_tickets_open_updated's condition.
OPEN_CLAUSE = text("tickets." + OPEN_STATUS_SQL)
PAGE_SIZE = 50
PAGE_SIZE_MAX = 200
# Counts stop here: "999+" is as useful as "48,213" on a sidebar, and far cheaper to know.
COUNT_CAP = 999
# A tag filter is planned by hand: neither database knows that tags go with teams, so either
# would walk the whole queue for a tag the agent's teams never use. First only the next
# WALK_WINDOW tickets in queue order are looked at (a common tag fills a page there), and only
# if that falls short does the query start from the tag's tickets (a rare one) and sort them.
WALK_WINDOW = 5000
RECENT_DAYS = 7


@dataclass(frozen=True)
class QueueFilter:
    """Any combination of queue criteria; empty fields don't filter."""

    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    assignee: str = ""  # "me", "none" or a user id
    team: str = ""  # "mine", "none" or a team id
    requester: str = ""  # a contact id or an e-mail address
    organization: str = ""  # an organization id
    tag: str = ""
    channel: tuple[str, ...] = ()
    created_from: date | None = None
    created_to: date | None = None
    updated_from: date | None = None
    updated_to: date | None = None
    resolved_days: int | None = None  # resolved within this many days

    def to_args(self) -> dict[str, list[str]]:
        """The filter as query-string values (also what a saved view stores)."""
        args: dict[str, list[str]] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, "", ()):
                continue
            values = value if isinstance(value, tuple) else (value,)
            args[f.name] = [v.isoformat() if isinstance(v, date) else str(v) for v in values]
        return args

    def to_json(self) -> str:
        return json.dumps(self.to_args(), sort_keys=True)

    def merged(self, other: "QueueFilter") -> "QueueFilter":
        """This filter with `other`'s non-empty fields laid over it."""
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(other)
            if getattr(other, f.name) not in (None, "", ())
        }
        return replace(self, **changes)

    @property
    def is_empty(self) -> bool:
        return not self.to_args()


_CHOICES = {
    "status": {s.value for s in Status},
    "priority": {p.value for p in Priority},
    "channel": {c.value for c in Channel},
}


def _one(values: Sequence[str]) -> str:
    return next((v.strip() for v in values if v and v.strip()), "")


_UNKNOWN = {
    "status": N_("Unknown status “%(value)s”."),
    "priority": N_("Unknown priority “%(value)s”."),
    "channel": N_("Unknown channel “%(value)s”."),
    "assignee": N_("Unknown assignee “%(value)s”."),
    "team": N_("Unknown team “%(value)s”."),
    "organization": N_("Unknown organization “%(value)s”."),
}


def _unknown(name: str, value: str) -> ValidationError:
    """The error for a value of the `name` filter that is not one of its choices."""
    return ValidationError(_UNKNOWN[name], {name: "Unknown."}, value=value[:40])


def _id_or(value: str, symbols: set[str], name: str) -> str:
    if value and value not in symbols and not value.isdigit():
        raise _unknown(name, value)
    return value


def _date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            "“%(value)s” is not a date (YYYY-MM-DD).", {name: "Not a date."}, value=value[:20]
        ) from None


def parse_filter(args: Mapping[str, Sequence[str]]) -> QueueFilter:
    """A QueueFilter from query-string values (name -> list). Raises ValidationError."""
    values: dict[str, Any] = {}
    for name, allowed in _CHOICES.items():
        chosen = [v for v in args.get(name, ()) if v]
        bad = [v for v in chosen if v not in allowed]
        if bad:
            raise _unknown(name, bad[0])
        values[name] = tuple(dict.fromkeys(chosen))
    values["assignee"] = _id_or(_one(args.get("assignee", ())), {"me", "none"}, "assignee")
    values["team"] = _id_or(_one(args.get("team", ())), {"mine", "none"}, "team")
    values["organization"] = _id_or(_one(args.get("organization", ())), set(), "organization")
    requester = _one(args.get("requester", ())).lower()
    if requester and not requester.isdigit() and "@" not in requester:
        raise ValidationError(
            "Give the requester's e-mail address.", {"requester": "An e-mail address."}
        )
    values["requester"] = requester[:254]
    values["tag"] = _one(args.get("tag", ())).lower()[:50]
    for name in ("created_from", "created_to", "updated_from", "updated_to"):
        values[name] = _date(_one(args.get(name, ())), name)
    days = _one(args.get("resolved_days", ()))
    if days and not (days.isdigit() and 0 < int(days) <= 366):
        raise ValidationError("Resolved within 1 to 366 days.", {"resolved_days": "1-366."})
    values["resolved_days"] = int(days) if days else None
    return QueueFilter(**values)


def filter_from_json(text: str) -> QueueFilter:
    data = json.loads(text or "{}")
    return parse_filter({k: list(v) for k, v in data.items() if isinstance(v, list)})


def _my_teams(actor: Actor):
    user_id = actor.user.id if actor.user else None
    return select(team_members.c.team_id).where(team_members.c.user_id == user_id)


def tag_id_of(name: str) -> int:
    """The tag's id; -1 (no tickets) for a tag that does not exist."""
    found = db.session.execute(select(Tag.id).where(Tag.name == name)).scalar()
    return -1 if found is None else found


def filter_clauses(
    actor: Actor,
    f: QueueFilter,
    *,
    tag_check: bool = False,
    tag_id: int | None = None,
    tag_array: bool = False,
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the filter, always including what the actor may see. With
    `tag_check`, the tag is tested ticket by ticket instead of listing the tag's tickets;
    `tag_id` (from tag_id_of) lets the planner use what it knows about that very tag;
    `tag_array` (PostgreSQL, with `tag_id`) hands over the tag's tickets as one array."""
    clauses = [visible_tickets_filter(actor)]
    if set(f.status) == set(OPEN):
        clauses.append(OPEN_CLAUSE)
    elif f.status:
        clauses.append(Ticket.status.in_([Status(s) for s in f.status]))
    if f.priority:
        clauses.append(Ticket.priority.in_([Priority(p) for p in f.priority]))
    if f.channel:
        clauses.append(Ticket.channel.in_([Channel(c) for c in f.channel]))
    if f.assignee == "me":
        clauses.append(Ticket.assignee_id == actor.user.id if actor.user else false())
    elif f.assignee == "none":
        clauses.append(Ticket.assignee_id.is_(None))
    elif f.assignee:
        clauses.append(Ticket.assignee_id == int(f.assignee))
    if f.team == "mine":
        clauses.append(Ticket.team_id.in_(_my_teams(actor)))
    elif f.team == "none":
        clauses.append(Ticket.team_id.is_(None))
    elif f.team:
        clauses.append(Ticket.team_id == int(f.team))
    if f.requester.isdigit():
        clauses.append(Ticket.requester_id == int(f.requester))
    elif f.requester:
        owner = select(ContactEmail.contact_id).where(ContactEmail.email == f.requester)
        clauses.append(Ticket.requester_id == owner.scalar_subquery())
    if f.organization:
        clauses.append(Ticket.organization_id == int(f.organization))
    if f.tag:
        if tag_id is None:
            tag_id = select(Tag.id).where(Tag.name == f.tag).scalar_subquery()
        if tag_check:
            # A correlated lookup with LIMIT: no planner turns it into a join that reads all
            # of the tag's rows; it stays one primary-key probe per ticket looked at.
            probe = (
                select(ticket_tags.c.tag_id)
                .where(ticket_tags.c.ticket_id == Ticket.id, ticket_tags.c.tag_id == tag_id)
                .limit(1)
                .scalar_subquery()
            )
            clauses.append(probe.is_not(None))
        elif tag_array:
            # Looked up by primary key, one by one: a join the planner could choose instead
            # would read every ticket to meet a few thousand tagged ones.
            listed = (
                "tickets.id = ANY(ARRAY(SELECT ticket_id FROM ticket_tags WHERE tag_id = :tag))"
            )
            clauses.append(text(listed).bindparams(tag=int(tag_id)))
        else:
            clauses.append(
                Ticket.id.in_(select(ticket_tags.c.ticket_id).where(ticket_tags.c.tag_id == tag_id))
            )
    day = timedelta(days=1)
    if f.created_from:
        clauses.append(Ticket.created_at >= datetime.combine(f.created_from, datetime.min.time()))
    if f.created_to:
        clauses.append(
            Ticket.created_at < datetime.combine(f.created_to + day, datetime.min.time())
        )
    if f.updated_from:
        clauses.append(Ticket.updated_at >= datetime.combine(f.updated_from, datetime.min.time()))
    if f.updated_to:
        clauses.append(
            Ticket.updated_at < datetime.combine(f.updated_to + day, datetime.min.time())
        )
    if f.resolved_days:
        clauses.append(Ticket.resolved_at >= utcnow() - timedelta(days=f.resolved_days))
    return clauses


# --- built-in views ------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    key: str
    title: str
    filter: QueueFilter
    sort: str = "updated"


BUILTIN_VIEWS: tuple[View, ...] = (
    View("open", N_("Open tickets"), QueueFilter(status=OPEN)),
    View("unassigned", N_("Unassigned"), QueueFilter(status=OPEN, assignee="none")),
    View("mine", N_("Mine"), QueueFilter(status=OPEN, assignee="me")),
    View("team", N_("My teams"), QueueFilter(status=OPEN, team="mine")),
    View("pending", N_("Pending"), QueueFilter(status=(Status.PENDING.value,))),
    View("resolved", N_("Recently resolved"), QueueFilter(resolved_days=RECENT_DAYS)),
)
DEFAULT_VIEW = BUILTIN_VIEWS[0]


def builtin_view(key: str) -> View | None:
    return next((v for v in BUILTIN_VIEWS if v.key == key), None)


def capped_count(actor: Actor, f: QueueFilter, tag_id: int | None = None) -> Select:
    """A statement counting the filter's tickets, stopping past COUNT_CAP."""
    clauses = filter_clauses(actor, f, tag_id=tag_id)
    limited = select(Ticket.id).where(*clauses).limit(COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(limited)


def count_views(actor: Actor, filters: Mapping[str, QueueFilter]) -> dict[str, int]:
    """Capped counts of several filters in one round trip."""
    if not filters:
        return {}
    keys = list(filters)
    tag_ids = {f.tag: tag_id_of(f.tag) for f in filters.values() if f.tag}
    columns = [
        capped_count(actor, filters[k], tag_ids.get(filters[k].tag))
        .scalar_subquery()
        .label(f"c{i}")
        for i, k in enumerate(keys)
    ]
    row = db.session.execute(select(*columns)).one()
    return dict(zip(keys, row, strict=True))


def format_count(count: int) -> str:
    return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


# --- sorting and keyset pagination ---------------------------------------------------------

_PRIORITY_ORDER = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}
PRIORITY_RANK = case(
    *[(Ticket.priority == p, rank) for p, rank in _PRIORITY_ORDER.items()], else_=4
)


@dataclass(frozen=True)
class Key:
    expr: Any
    descending: bool
    value: Callable[[Ticket], Any]
    is_time: bool = False


@dataclass(frozen=True)
class Sort:
    name: str
    title: str
    keys: tuple[Key, ...] = field(default_factory=tuple)


_ID_DESC = Key(Ticket.id, True, lambda t: t.id)
SORTS: dict[str, Sort] = {
    s.name: s
    for s in (
        Sort(
            "updated",
            N_("Last update"),
            (Key(Ticket.updated_at, True, lambda t: t.updated_at, True), _ID_DESC),
        ),
        Sort(
            "waiting",
            N_("Longest waiting"),
            (
                Key(Ticket.updated_at, False, lambda t: t.updated_at, True),
                Key(Ticket.id, False, lambda t: t.id),
            ),
        ),
        Sort(
            "created",
            N_("Newest"),
            (Key(Ticket.created_at, True, lambda t: t.created_at, True), _ID_DESC),
        ),
        Sort(
            "priority",
            N_("Priority"),
            (
                Key(PRIORITY_RANK, False, lambda t: _PRIORITY_ORDER.get(t.priority, 4)),
                Key(Ticket.updated_at, True, lambda t: t.updated_at, True),
                _ID_DESC,
            ),
        ),
    )
}


def encode_cursor(sort: Sort, ticket: Ticket) -> str:
    values = [k.value(ticket) for k in sort.keys]
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> list[Any]:
    """The sort-key values in a cursor. Raises ValidationError for a damaged one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(sort.keys):
            raise ValueError
        return [
            datetime.fromisoformat(v) if k.is_time else int(v)
            for k, v in zip(sort.keys, values, strict=True)
        ]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError(
            "That page link is damaged; start again from the first page.", {"cursor": "Bad."}
        ) from None


def _beyond(sort: Sort, values: list[Any], backwards: bool) -> ColumnElement[bool]:
    """Rows that come after `values` in the sort order (before them when `backwards`)."""
    keys = sort.keys
    if all(k.descending == keys[0].descending for k in keys):
        # One row comparison: both databases walk a matching index from the cursor on.
        left, right = tuple_(*[k.expr for k in keys]), tuple(values)
        return left < right if keys[0].descending != backwards else left > right
    alternatives = []
    for i, key in enumerate(keys):
        equal = [keys[j].expr == values[j] for j in range(i)]
        later = key.expr < values[i] if key.descending != backwards else key.expr > values[i]
        alternatives.append(and_(*equal, later))
    return or_(*alternatives)


def _ordering(sort: Sort, backwards: bool, by_index: bool = True) -> list:
    """ORDER BY for the sort. Without `by_index` the keys are wrapped so that no index can
    deliver the order: the database then collects the filter's rows first and sorts them."""
    exprs = [k.expr if by_index else func.coalesce(k.expr, k.expr) for k in sort.keys]
    return [
        e.desc() if k.descending != backwards else e.asc()
        for e, k in zip(exprs, sort.keys, strict=True)
    ]


WALK, BY_TAG = "walk", "by_tag"


def _within_window(sort: Sort, position: list, backwards: bool) -> ColumnElement[bool]:
    """Rows no further than the WALK_WINDOW-th ticket in the sort order: the index walk
    stops there at the latest. (For sorts whose keys all run the same way.)"""
    keys = [k.expr for k in sort.keys]
    window = (
        select(*keys)
        .where(*position)
        .order_by(*_ordering(sort, backwards))
        .limit(WALK_WINDOW)
        .subquery()
    )
    down = sort.keys[0].descending != backwards
    last = [
        select(column)
        .order_by(*[c.asc() if down else c.desc() for c in window.c])
        .limit(1)
        .scalar_subquery()
        for column in window.c
    ]
    edge = tuple_(*last)
    return tuple_(*keys) >= edge if down else tuple_(*keys) <= edge


def queue_statement(
    actor: Actor,
    f: QueueFilter,
    sort: Sort,
    *,
    after: list | None = None,
    before: list | None = None,
    size: int = PAGE_SIZE,
    plan: str | None = None,
    tag_id: int | None = None,
) -> Select:
    """One page of tickets (plus one row to tell whether more follow).

    `plan` steers a tag filter: WALK looks only at the next WALK_WINDOW tickets in the sort
    order, testing the tag on each; BY_TAG starts from the tag's tickets and sorts them."""
    position = []
    if after is not None:
        position.append(_beyond(sort, after, backwards=False))
    if before is not None:
        position.append(_beyond(sort, before, backwards=True))
    backwards = before is not None
    tag_array = plan == BY_TAG and tag_id is not None and db.engine.dialect.name != "sqlite"
    clauses = filter_clauses(actor, f, tag_check=plan == WALK, tag_id=tag_id, tag_array=tag_array)
    stmt = select(Ticket).where(*clauses, *position)
    if plan == WALK:
        stmt = stmt.where(_within_window(sort, position, backwards))
    ordering = _ordering(sort, backwards, by_index=plan != BY_TAG)
    return stmt.order_by(*ordering).limit(size + 1)


@dataclass
class Page:
    tickets: list[Ticket]
    next_cursor: str | None  # the page after this one
    prev_cursor: str | None  # the page before this one


def fetch_page(
    actor: Actor,
    f: QueueFilter,
    sort: Sort,
    *,
    after: str | None = None,
    before: str | None = None,
    size: int = PAGE_SIZE,
    options: Sequence = (),
) -> Page:
    """A page of the queue; `after`/`before` are cursors from an earlier page; `options`
    are loader options for what the page shows (requesters, tags)."""
    size = max(1, min(size, PAGE_SIZE_MAX))
    after_values = decode_cursor(sort, after) if after else None
    before_values = decode_cursor(sort, before) if before and not after else None
    page = {"after": after_values, "before": before_values, "size": size}
    if f.tag:
        tag_id = tag_id_of(f.tag)
        rows: list[Ticket] = []
        if sort.name != "priority":
            walk = queue_statement(actor, f, sort, **page, plan=WALK, tag_id=tag_id)
            rows = list(db.session.execute(walk.options(*options)).scalars())
        if len(rows) <= size:  # the window held less than a page: start from the tag
            full = queue_statement(actor, f, sort, **page, plan=BY_TAG, tag_id=tag_id)
            rows = list(db.session.execute(full.options(*options)).scalars())
    else:
        stmt = queue_statement(actor, f, sort, **page)
        rows = list(db.session.execute(stmt.options(*options)).scalars())
    more = len(rows) > size
    rows = rows[:size]
    if before_values is not None and not rows:
        return fetch_page(actor, f, sort, size=size, options=options)  # nothing before it
    if before_values is not None:
        rows.reverse()
        prev_cursor = encode_cursor(sort, rows[0]) if more and rows else None
        next_cursor = encode_cursor(sort, rows[-1]) if rows else None
        return Page(rows, next_cursor, prev_cursor)
    next_cursor = encode_cursor(sort, rows[-1]) if more else None
    prev_cursor = encode_cursor(sort, rows[0]) if after_values is not None and rows else None
    return Page(rows, next_cursor, prev_cursor)
