"""Full-text search over ticket subjects, messages and requesters, with the database's own
engine: SQLite FTS5, or PostgreSQL tsvector with GIN indexes.

The search tables are created by the console migration (0002_console) and kept in sync by
triggers, so every writer (web, API, mail poller) is indexed without thinking of it; only the
bulk seed pauses them and indexes its rows at once (helpdesk.seed_index):

- `fts_tickets`: one row per ticket, the subject and the requester's name and addresses;
- `fts_messages`: one row per reply or internal note (event lines are not indexed).

SQLite tokenizes with Porter stemming, PostgreSQL with its 'english' configuration (in the
migration's documents and in every query below), so "printers" finds "printer" on both.

Their names all start with `fts_` (FTS5 adds shadow tables with that prefix too); they are not
ORM models, so a model/migration comparison must skip them (see `is_search_table`).

Ranking: a word found in thousands of messages must still answer fast, so each table gives
at most `CANDIDATES` matches, the newest first, and those are ranked (bm25 or ts_rank). A
rare word is ranked over all its matches; a very common one over its newest matches. A query
of nothing but e-mail addresses looks the requesters up by address (exact and indexed, where
words would match every "example" and "com"), then adds the mails that mention them.

Other parts of the app use `search_ticket_ids` (hits with passages) or `ranked_ticket_ids`
(ids only, for the API's `q`).
"""

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import Float, Integer, bindparam, func, literal, select, text, union_all

from helpdesk.accounts.actor import Actor
from helpdesk.contacts.models import Contact, ContactEmail
from helpdesk.extensions import db
from helpdesk.tickets import permissions
from helpdesk.tickets.models import Message, MessageKind, Ticket
from helpdesk.tickets.permissions import visible_tickets_filter

TABLE_PREFIX = "fts_"
CANDIDATES = 1000
QUERY_MAX = 200
REQUESTER_RANK = 1e6  # the tickets of the very address searched for come first
# PostgreSQL looks among this many newest messages (and tickets) first.
RECENT_MESSAGES = 300_000
RECENT_TICKETS = 100_000


def is_search_table(name: str) -> bool:
    """True for tables the search engine owns (not ORM models)."""
    return name.startswith(TABLE_PREFIX)


@dataclass(frozen=True)
class SearchHit:
    ticket_id: int
    rank: float  # higher is better; only comparable within one search
    snippet: Markup  # a passage of the best match, escaped, matches in <mark>
    subject: Markup | None = None  # the subject with matches marked, if it matched


# --- the query language: words, "phrases", -excluded, OR, prefix* ------------------------

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORDY = re.compile(r"\w")


@dataclass(frozen=True)
class Term:
    text: str
    phrase: bool = False
    negated: bool = False
    prefix: bool = False


def parse_query(query: str) -> list[Term | str]:
    """Terms and "OR" operators, in order; punctuation-only words are dropped."""
    items: list[Term | str] = []
    for match in _TOKEN.finditer(query[:QUERY_MAX]):
        negated_phrase, phrase, word = match.groups()
        if word is not None:
            if word.upper() == "OR":
                if items and items[-1] != "OR":
                    items.append("OR")
                continue
            negated = word.startswith("-") and len(word) > 1
            word = word[1:] if negated else word
            prefix = word.endswith("*") and len(word) > 1
            word = word.rstrip("*") if prefix else word
            if _WORDY.search(word):
                items.append(Term(word, phrase="@" in word, negated=negated, prefix=prefix))
        elif _WORDY.search(phrase):
            items.append(Term(phrase.strip(), phrase=True, negated=bool(negated_phrase)))
    while items and items[-1] == "OR":
        items.pop()
    return items


def fts5_expression(query: str) -> str | None:
    """The query as an FTS5 MATCH expression (every term quoted: no user syntax leaks
    through), or None when nothing is left to look for."""
    positives: list[str] = []
    negatives: list[str] = []
    for item in parse_query(query):
        if item == "OR":
            if positives and positives[-1] != "OR":
                positives.append("OR")
            continue
        quoted = '"' + item.text.replace('"', '""') + '"' + (" *" if item.prefix else "")
        if item.negated:
            negatives.append(quoted)
        else:
            if positives and positives[-1] != "OR":
                positives.append("AND")
            positives.append(quoted)
    while positives and positives[-1] in ("OR", "AND"):
        positives.pop()
    if not positives:
        return None
    expression = "(" + " ".join(positives) + ")"
    return expression + "".join(f" NOT {n}" for n in negatives)


# --- highlighting ----------------------------------------------------------------------------


class _Marks:
    """Unguessable markers the engine puts around matches; after escaping the text they
    become <mark> tags, so a message cannot smuggle markup in by containing the markers."""

    def __init__(self):
        nonce = secrets.token_hex(6)
        self.open, self.close = f"\ue000{nonce}", f"\ue001{nonce}"

    def render(self, raw: str | None) -> Markup:
        escaped = str(escape(raw or ""))
        return Markup(escaped.replace(self.open, "<mark>").replace(self.close, "</mark>"))  # noqa: S704


# --- per-engine candidate and snippet queries -------------------------------------------


def _sqlite_candidates(expression: str):
    messages = text(
        "SELECT rowid AS message_id, -bm25(fts_messages) AS rank FROM fts_messages"
        " WHERE fts_messages MATCH :q ORDER BY rowid DESC LIMIT :cap"
    ).columns(message_id=Integer, rank=Float)
    tickets = text(
        "SELECT rowid AS ticket_id, -bm25(fts_tickets, 4.0, 2.0) AS rank FROM fts_tickets"
        " WHERE fts_tickets MATCH :q ORDER BY rowid DESC LIMIT :cap"
    ).columns(ticket_id=Integer, rank=Float)
    return messages, tickets, {"q": expression, "cap": CANDIDATES}


# Ranked after the LIMIT: only the candidates kept are scored.
_PG_MESSAGES = (
    "SELECT c.message_id, ts_rank(c.document, websearch_to_tsquery('english', :q), 1) AS rank"
    " FROM (SELECT f.message_id, f.document FROM fts_messages f"
    " WHERE f.document @@ websearch_to_tsquery('english', :q) AND f.message_id > :message_floor"
    " ORDER BY f.message_id DESC LIMIT :cap) c"
)
_PG_TICKETS = (
    "SELECT c.ticket_id, ts_rank(c.document, websearch_to_tsquery('english', :q), 1) AS rank"
    " FROM (SELECT f.ticket_id, f.document FROM fts_tickets f"
    " WHERE f.document @@ websearch_to_tsquery('english', :q) AND f.ticket_id > :ticket_floor"
    " ORDER BY f.ticket_id DESC LIMIT :cap) c"
)


def _postgres_candidates(query: str, floors: tuple[int, int] | None = None):
    """With `floors`, only messages and tickets newer than those ids: GIN finds every match
    but cannot check a phrase or rank one without reading its row, so a common phrase is
    looked for among the recent rows first (see RECENT_MESSAGES)."""
    message_floor, ticket_floor = floors or (0, 0)
    messages = (
        text(_PG_MESSAGES)
        .bindparams(message_floor=message_floor)
        .columns(message_id=Integer, rank=Float)
    )
    tickets = (
        text(_PG_TICKETS)
        .bindparams(ticket_floor=ticket_floor)
        .columns(ticket_id=Integer, rank=Float)
    )
    return messages, tickets, {"q": query[:QUERY_MAX], "cap": CANDIDATES}


def _recent_floors() -> tuple[int, int] | None:
    """The ids below which messages and tickets are not "recent"; None for a small desk."""
    newest_message = db.session.execute(select(func.max(Message.id))).scalar() or 0
    newest_ticket = db.session.execute(select(func.max(Ticket.id))).scalar() or 0
    if newest_message <= RECENT_MESSAGES:
        return None
    return newest_message - RECENT_MESSAGES, max(0, newest_ticket - RECENT_TICKETS)


def _sqlite_snippets(expression: str, message_ids, ticket_ids, marks: _Marks):
    params = {"q": expression, "o": marks.open, "c": marks.close}
    bodies = {}
    if message_ids:
        rows = db.session.execute(
            text(
                "SELECT rowid, snippet(fts_messages, 0, :o, :c, '…', 24) FROM fts_messages"
                " WHERE fts_messages MATCH :q AND rowid IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {**params, "ids": list(message_ids)},
        )
        bodies = dict(rows.all())
    subjects = {}
    if ticket_ids:
        rows = db.session.execute(
            text(
                "SELECT rowid, highlight(fts_tickets, 0, :o, :c),"
                " highlight(fts_tickets, 1, :o, :c) FROM fts_tickets"
                " WHERE fts_tickets MATCH :q AND rowid IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {**params, "ids": list(ticket_ids)},
        )
        subjects = {row[0]: (row[1], row[2]) for row in rows}
    return bodies, subjects


def _postgres_snippets(query: str, message_ids, ticket_ids, marks: _Marks):
    marked = f'StartSel="{marks.open}", StopSel="{marks.close}"'
    params = {
        "q": query[:QUERY_MAX],
        "passage": marked + ', MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "',
        "whole": marked + ", HighlightAll=true",
    }
    bodies = {}
    if message_ids:
        rows = db.session.execute(
            text(
                "SELECT m.id, ts_headline('english', m.body_text, q, :passage)"
                " FROM messages m, websearch_to_tsquery('english', :q) q"
                " WHERE m.id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {**params, "ids": list(message_ids)},
        )
        bodies = dict(rows.all())
    subjects = {}
    if ticket_ids:
        rows = db.session.execute(
            text(
                "SELECT t.id, ts_headline('english', t.subject, q, :whole),"
                " ts_headline('english', c.name || ' ' || coalesce((SELECT"
                " string_agg(e.email, ' ' ORDER BY e.id) FROM contact_emails e"
                " WHERE e.contact_id = c.id), ''), q, :whole)"
                " FROM tickets t JOIN contacts c ON c.id = t.requester_id,"
                " websearch_to_tsquery('english', :q) q WHERE t.id IN :ids"
            ).bindparams(bindparam("ids", expanding=True)),
            {**params, "ids": list(ticket_ids)},
        )
        subjects = {row[0]: (row[1], row[2]) for row in rows}
    return bodies, subjects


# --- the search ------------------------------------------------------------------------------


def _best_per_ticket(rows: Iterable) -> dict[int, tuple[float, int | None]]:
    """Per ticket: its best rank, and its best-ranked message (for the passage shown)."""
    best: dict[int, list] = {}
    for ticket_id, rank, message_id in rows:
        entry = best.setdefault(ticket_id, [rank, None, None])
        entry[0] = max(entry[0], rank)
        if message_id is not None and (entry[2] is None or rank > entry[2]):
            entry[1], entry[2] = message_id, rank
    return {ticket_id: (rank, message_id) for ticket_id, (rank, message_id, _) in best.items()}


def _address_only(query: str) -> list[str]:
    """The addresses, when the query is nothing but e-mail addresses."""
    terms = [item for item in parse_query(query) if item != "OR"]
    if terms and all("@" in t.text and not t.negated and not t.prefix for t in terms):
        return [t.text.lower() for t in terms]
    return []


def _requester_rows(actor: Actor, addresses: list[str]):
    """Tickets whose requester has one of the addresses: found by the address itself, not by
    words, so "anna@example.com" is an exact, indexed lookup on both databases."""
    return db.session.execute(
        select(Ticket.id, literal(REQUESTER_RANK), literal(None))
        .join(ContactEmail, ContactEmail.contact_id == Ticket.requester_id)
        .where(ContactEmail.email.in_(addresses), visible_tickets_filter(actor))
        .order_by(Ticket.id.desc())
        .limit(CANDIDATES)
    ).all()


def _candidate_rows(actor: Actor, query: str, expression: str, sqlite: bool, addresses, floors):
    messages, tickets, params = (
        _sqlite_candidates(expression) if sqlite else _postgres_candidates(query, floors)
    )
    m, t = messages.subquery("m"), tickets.subquery("t")
    from_messages = (
        select(Message.ticket_id, m.c.rank, m.c.message_id)
        .join(Message, Message.id == m.c.message_id)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(visible_tickets_filter(actor))
    )
    if not permissions.can_see_notes(actor):
        from_messages = from_messages.where(Message.kind == MessageKind.REPLY)
    if addresses:
        return list(db.session.execute(from_messages, params)) + _requester_rows(actor, addresses)
    from_tickets = (
        select(t.c.ticket_id, t.c.rank, literal(None))
        .join(Ticket, Ticket.id == t.c.ticket_id)
        .where(visible_tickets_filter(actor))
    )
    return db.session.execute(union_all(from_messages, from_tickets), params).all()


def _matches(actor: Actor, query: str, expression: str, sqlite: bool, addresses, limit: int):
    """Per ticket: (rank, best message id); on PostgreSQL among recent rows first, and over
    everything only when those give fewer than `limit` tickets."""
    floors = None if sqlite else _recent_floors()
    best = _best_per_ticket(_candidate_rows(actor, query, expression, sqlite, addresses, floors))
    if floors is not None and len(best) < limit:
        best = _best_per_ticket(_candidate_rows(actor, query, expression, sqlite, addresses, None))
    return best


def _requester_line(ticket_ids, addresses: list[str]) -> dict[int, Markup]:
    rows = db.session.execute(
        select(Ticket.id, Contact.name, ContactEmail.email)
        .join(Contact, Contact.id == Ticket.requester_id)
        .join(ContactEmail, ContactEmail.contact_id == Contact.id)
        .where(Ticket.id.in_(list(ticket_ids)), ContactEmail.email.in_(addresses))
    )
    return {
        tid: Markup("{} &lt;<mark>{}</mark>&gt;").format(name, email) for tid, name, email in rows
    }


def _openings(ticket_ids: list[int], length: int = 160) -> dict[int, str]:
    """The start of each ticket's first message."""
    if not ticket_ids:
        return {}
    first = (
        select(func.min(Message.id))
        .where(Message.ticket_id.in_(ticket_ids), Message.kind == MessageKind.REPLY)
        .group_by(Message.ticket_id)
    )
    rows = db.session.execute(
        select(Message.ticket_id, func.substr(Message.body_text, 1, length + 1)).where(
            Message.id.in_(first)
        )
    )
    return {tid: " ".join(body.split())[:length] for tid, body in rows}


def _ranked(actor: Actor, query: str, limit: int):
    """(sqlite?, engine expression, addresses, best matches [(ticket id, (rank, message id))])
    or None when the query has nothing to search for."""
    query = (query or "").strip()[:QUERY_MAX]
    sqlite = db.engine.dialect.name == "sqlite"
    expression = fts5_expression(query) if sqlite else query
    if not expression or limit <= 0:
        return None
    addresses = _address_only(query)
    matches = _matches(actor, query, expression, sqlite, addresses, limit)
    best = sorted(matches.items(), key=lambda item: (-item[1][0], -item[0]))
    return sqlite, expression, addresses, best[:limit]


def ranked_ticket_ids(actor: Actor, query: str, limit: int = 50) -> list[int]:
    """The ids `search_ticket_ids` would give, best first, without building passages."""
    ranked = _ranked(actor, query, limit)
    return [ticket_id for ticket_id, _ in ranked[3]] if ranked else []


def search_ticket_ids(actor: Actor, query: str, limit: int = 50) -> list[SearchHit]:
    """The tickets matching `query` that `actor` may see, best first, with a highlighted
    passage each. Internal notes are searched only for agents. A query of only e-mail
    addresses finds those requesters' tickets first, then mails that mention them."""
    ranked = _ranked(actor, query, limit)
    if ranked is None:
        return []
    sqlite, expression, addresses, best = ranked
    marks = _Marks()
    message_ids = [mid for _, (_, mid) in best if mid is not None]
    ticket_ids = [tid for tid, _ in best]
    snippets = _sqlite_snippets if sqlite else _postgres_snippets
    searched = [] if addresses else ticket_ids  # requesters found by address: no words to mark
    bodies, subjects = snippets(expression, message_ids, searched, marks)
    requesters = _requester_line(ticket_ids, addresses) if addresses else {}
    openings = _openings([tid for tid, (_, mid) in best if mid is None])
    hits = []
    for ticket_id, (rank, message_id) in best:
        subject, requester = subjects.get(ticket_id, (None, None))
        marked_subject = marks.render(subject) if subject and marks.open in subject else None
        if message_id is not None:
            snippet = marks.render(bodies.get(message_id))
        elif ticket_id in requesters:
            snippet = requesters[ticket_id]
        elif requester and marks.open in requester:
            snippet = marks.render(requester)
        else:  # only the subject matched: show how the conversation starts
            snippet = Markup("{}").format(openings.get(ticket_id, ""))
        hits.append(SearchHit(ticket_id, float(rank), snippet, marked_subject))
    return hits
