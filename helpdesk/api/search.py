"""Full-text matching of tickets for the API's `q`: the console's search engine
(helpdesk.tickets.search), so the API and the console find the same tickets for the same words,
and internal notes count only for those who may read them."""

from sqlalchemy import ColumnElement, false

from helpdesk.accounts.actor import Actor
from helpdesk.api.errors import ApiError
from helpdesk.tickets.models import Ticket
from helpdesk.tickets.search import CANDIDATES, Term, parse_query, ranked_ticket_ids

# `q` narrows the list to at most this many best-ranked tickets; the list keeps its own order.
MATCHES_MAX = CANDIDATES


def like_pattern(word: str) -> str:
    """A LIKE pattern for `word` anywhere (the contact and organization searches)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _has_words(q: str) -> bool:
    return any(isinstance(term, Term) and not term.negated for term in parse_query(q))


def ticket_text_filter(actor: Actor, q: str) -> ColumnElement[bool]:
    """Tickets matching `q` that `actor` may see, as a WHERE clause. Raises ApiError (422)
    when `q` has no word to look for (only punctuation, or only excluded words)."""
    if not _has_words(q):
        message = "Give at least one word to search for."
        raise ApiError(422, message, {"q": message})
    ids = ranked_ticket_ids(actor, q, limit=MATCHES_MAX)
    return Ticket.id.in_(ids) if ids else false()
