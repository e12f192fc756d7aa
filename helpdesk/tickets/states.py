"""The ticket state machine: every allowed status change, and who may make it.

This table is the only place where status rules live. Services call `check_transition`;
nothing else decides whether a status may change.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from helpdesk.errors import InvalidTransition


class Status(enum.StrEnum):
    NEW = "new"  # nobody has acted on it yet
    OPEN = "open"  # an agent is working on it
    PENDING = "pending"  # waiting on the customer
    RESOLVED = "resolved"  # answered; the customer can still reopen it for a while
    CLOSED = "closed"  # final: a later reply starts a new, linked ticket


OPEN_STATUSES = frozenset({Status.NEW, Status.OPEN, Status.PENDING})


class Mover(enum.StrEnum):
    """Who asks for the change."""

    AGENT = "agent"  # agents and admins
    CUSTOMER = "customer"  # the requester, a participant, or their organization's manager
    SYSTEM = "system"  # periodic work (auto-close)


AGENT, CUSTOMER, SYSTEM = Mover.AGENT, Mover.CUSTOMER, Mover.SYSTEM


@dataclass(frozen=True)
class Rule:
    movers: frozenset[Mover]
    # A customer may only undo a resolution within the reopen window.
    customer_within_reopen_window: bool = False


def _rule(*movers: Mover, window: bool = False) -> Rule:
    return Rule(frozenset(movers), window)


TRANSITIONS: dict[tuple[Status, Status], Rule] = {
    (Status.NEW, Status.OPEN): _rule(AGENT),
    (Status.NEW, Status.PENDING): _rule(AGENT),
    (Status.NEW, Status.RESOLVED): _rule(AGENT, CUSTOMER),
    (Status.NEW, Status.CLOSED): _rule(AGENT),
    (Status.OPEN, Status.PENDING): _rule(AGENT),
    (Status.OPEN, Status.RESOLVED): _rule(AGENT, CUSTOMER),
    (Status.OPEN, Status.CLOSED): _rule(AGENT),
    (Status.PENDING, Status.OPEN): _rule(AGENT, CUSTOMER),
    (Status.PENDING, Status.RESOLVED): _rule(AGENT, CUSTOMER),
    (Status.PENDING, Status.CLOSED): _rule(AGENT),
    (Status.RESOLVED, Status.OPEN): _rule(AGENT, CUSTOMER, window=True),
    (Status.RESOLVED, Status.CLOSED): _rule(AGENT, SYSTEM),
}


@dataclass(frozen=True)
class StatusChange:
    old: Status
    new: Status


def within_reopen_window(resolved_at: datetime | None, now: datetime, days: int) -> bool:
    return resolved_at is not None and now - resolved_at <= timedelta(days=days)


def check_transition(
    old: Status,
    new: Status,
    mover: Mover,
    *,
    resolved_at: datetime | None = None,
    now: datetime | None = None,
    reopen_days: int = 7,
) -> StatusChange:
    """Return the change if `mover` may move a ticket from `old` to `new`.

    Raises InvalidTransition with a message that says why not.
    """
    if old == new:
        raise InvalidTransition("The ticket is already %(status)s.", status=old)
    rule = TRANSITIONS.get((old, new))
    if rule is None:
        if old == Status.CLOSED:
            raise InvalidTransition("A closed ticket cannot change; a reply opens a new ticket.")
        raise InvalidTransition("A ticket cannot go from %(old)s to %(new)s.", old=old, new=new)
    if mover not in rule.movers:
        raise InvalidTransition(
            "Only an agent can move a ticket from %(old)s to %(new)s.", old=old, new=new
        )
    if (
        mover == CUSTOMER
        and rule.customer_within_reopen_window
        and (now is None or not within_reopen_window(resolved_at, now, reopen_days))
    ):
        raise InvalidTransition(
            "This request was resolved more than %(days)s days ago and can no longer"
            " be reopened; a reply opens a new request.",
            days=reopen_days,
        )
    return StatusChange(old, new)


def status_after_customer_reply(
    old: Status, *, resolved_at: datetime | None, now: datetime, reopen_days: int
) -> Status | None:
    """What a customer's reply does to the status; None means "start a new ticket"."""
    if old == Status.PENDING:
        return Status.OPEN
    if old == Status.RESOLVED:
        if within_reopen_window(resolved_at, now, reopen_days):
            return Status.OPEN
        return None
    if old == Status.CLOSED:
        return None
    return old


def status_after_agent_reply(old: Status) -> Status:
    """An agent's public reply marks a new ticket as being worked on."""
    return Status.OPEN if old == Status.NEW else old
