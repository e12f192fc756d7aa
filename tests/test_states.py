"""The ticket state machine against a table written out here, independently of TRANSITIONS."""

from datetime import datetime, timedelta
from itertools import product

import pytest

from helpdesk.errors import InvalidTransition
from helpdesk.tickets.states import (
    Mover,
    Status,
    StatusChange,
    check_transition,
    status_after_agent_reply,
    status_after_customer_reply,
)

NOW = datetime(2025, 3, 10, 12, 0, 0)
DAYS = 7
RECENTLY = NOW - timedelta(days=1)  # resolved well inside the reopen window

# Every status change the product allows, and who may make it. One line per (old, new, mover);
# anything not listed must be refused.
ALLOWED_TABLE = """
    new       open      agent
    new       pending   agent
    new       resolved  agent
    new       resolved  customer
    new       closed    agent
    open      pending   agent
    open      resolved  agent
    open      resolved  customer
    open      closed    agent
    pending   open      agent
    pending   open      customer
    pending   resolved  agent
    pending   resolved  customer
    pending   closed    agent
    resolved  open      agent
    resolved  open      customer
    resolved  closed    agent
    resolved  closed    system
"""
ALLOWED = {
    (Status(old), Status(new), Mover(mover))
    for old, new, mover in (line.split() for line in ALLOWED_TABLE.strip().splitlines())
}
EVERY = list(product(Status, Status, Mover))
REFUSED = [combo for combo in EVERY if combo not in ALLOWED]


def _id(combo) -> str:
    old, new, mover = combo
    return f"{old}->{new}-by-{mover}"


def test_the_table_covers_every_combination_exactly_once():
    assert len(EVERY) == 75
    assert len(ALLOWED) == 18 and len(REFUSED) == 57


@pytest.mark.parametrize("combo", sorted(ALLOWED), ids=_id)
def test_allowed_change_returns_the_status_change(combo):
    old, new, mover = combo
    change = check_transition(old, new, mover, resolved_at=RECENTLY, now=NOW, reopen_days=DAYS)
    assert change == StatusChange(old, new)


@pytest.mark.parametrize("combo", REFUSED, ids=_id)
def test_refused_change_raises_with_a_message_saying_why(combo):
    old, new, mover = combo
    with pytest.raises(InvalidTransition) as caught:
        check_transition(old, new, mover, resolved_at=RECENTLY, now=NOW, reopen_days=DAYS)
    message = caught.value.message
    if old == new:
        assert message == f"The ticket is already {old}."
    elif old == Status.CLOSED:
        assert "closed ticket cannot change" in message and "new ticket" in message
    elif any((old, new, m) in ALLOWED for m in Mover):
        # The move exists, just not for this mover.
        assert message == f"Only an agent can move a ticket from {old} to {new}."
    else:
        assert message == f"A ticket cannot go from {old} to {new}."


@pytest.mark.parametrize(
    ("resolved_ago", "allowed"),
    [
        (timedelta(days=DAYS) - timedelta(seconds=1), True),
        (timedelta(days=DAYS), True),  # exactly at the edge still counts as inside
        (timedelta(days=DAYS, microseconds=1), False),
        (timedelta(days=30), False),
    ],
    ids=["inside", "exactly-at-edge", "just-outside", "long-after"],
)
def test_customer_may_reopen_only_within_the_window(resolved_ago, allowed):
    def reopen():
        return check_transition(
            Status.RESOLVED,
            Status.OPEN,
            Mover.CUSTOMER,
            resolved_at=NOW - resolved_ago,
            now=NOW,
            reopen_days=DAYS,
        )

    if allowed:
        assert reopen() == StatusChange(Status.RESOLVED, Status.OPEN)
    else:
        with pytest.raises(InvalidTransition, match=f"more than {DAYS} days ago"):
            reopen()


def test_customer_cannot_reopen_without_a_known_resolution_time_or_clock():
    with pytest.raises(InvalidTransition, match="can no longer be reopened"):
        check_transition(Status.RESOLVED, Status.OPEN, Mover.CUSTOMER, resolved_at=None, now=NOW)
    with pytest.raises(InvalidTransition, match="can no longer be reopened"):
        check_transition(Status.RESOLVED, Status.OPEN, Mover.CUSTOMER, resolved_at=RECENTLY)


def test_agent_may_reopen_long_after_the_window():
    change = check_transition(
        Status.RESOLVED,
        Status.OPEN,
        Mover.AGENT,
        resolved_at=NOW - timedelta(days=365),
        now=NOW,
        reopen_days=DAYS,
    )
    assert change == StatusChange(Status.RESOLVED, Status.OPEN)


def test_reopen_window_length_is_configurable():
    resolved_at = NOW - timedelta(days=10)
    kwargs = {"resolved_at": resolved_at, "now": NOW}
    with pytest.raises(InvalidTransition, match="more than 7 days ago"):
        check_transition(Status.RESOLVED, Status.OPEN, Mover.CUSTOMER, reopen_days=7, **kwargs)
    change = check_transition(
        Status.RESOLVED, Status.OPEN, Mover.CUSTOMER, reopen_days=14, **kwargs
    )
    assert change.new == Status.OPEN


# What a customer's reply does, for every status: (status, resolved how long ago, result).
# None means "the reply starts a new, linked ticket".
CUSTOMER_REPLY_TABLE = [
    (Status.NEW, None, Status.NEW),
    (Status.OPEN, None, Status.OPEN),
    (Status.PENDING, None, Status.OPEN),
    (Status.RESOLVED, timedelta(days=1), Status.OPEN),
    (Status.RESOLVED, timedelta(days=DAYS), Status.OPEN),
    (Status.RESOLVED, timedelta(days=DAYS, seconds=1), None),
    (Status.CLOSED, timedelta(days=1), None),
    (Status.CLOSED, None, None),
]


def test_customer_reply_table_covers_every_status():
    assert {row[0] for row in CUSTOMER_REPLY_TABLE} == set(Status)


@pytest.mark.parametrize(
    ("old", "resolved_ago", "expected"),
    CUSTOMER_REPLY_TABLE,
    ids=[f"{row[0]}-{row[1]}" for row in CUSTOMER_REPLY_TABLE],
)
def test_status_after_customer_reply(old, resolved_ago, expected):
    resolved_at = None if resolved_ago is None else NOW - resolved_ago
    result = status_after_customer_reply(old, resolved_at=resolved_at, now=NOW, reopen_days=DAYS)
    assert result == expected


AGENT_REPLY_TABLE = {
    Status.NEW: Status.OPEN,
    Status.OPEN: Status.OPEN,
    Status.PENDING: Status.PENDING,
    Status.RESOLVED: Status.RESOLVED,
    Status.CLOSED: Status.CLOSED,
}


@pytest.mark.parametrize("old", list(Status))
def test_status_after_agent_reply(old):
    assert status_after_agent_reply(old) == AGENT_REPLY_TABLE[old]


@pytest.mark.parametrize("old", list(Status))
def test_status_after_a_reply_is_reachable_by_that_mover(old):
    """A reply never moves a ticket somewhere the table forbids the replier to move it."""
    after = status_after_agent_reply(old)
    if after != old:
        assert (old, after, Mover.AGENT) in ALLOWED
    after = status_after_customer_reply(old, resolved_at=RECENTLY, now=NOW, reopen_days=DAYS)
    if after is not None and after != old:
        assert (old, after, Mover.CUSTOMER) in ALLOWED
