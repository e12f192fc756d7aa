"""One action on many tickets, each through the ordinary service and in its own savepoint:
one ticket's refusal is reported and does not undo the others."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Team, User
from helpdesk.errors import DomainError, NotFound, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.models import Ticket

ACTIONS = ("assign", "team", "status", "priority", "tag", "untag", "merge")
BULK_MAX = 200


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)  # ticket numbers
    failed: list[tuple[int, DomainError]] = field(default_factory=list)  # (number, why)


def _assignee(actor: Actor, value: str) -> User | None:
    if value == "me":
        return actor.user
    if value in ("", "none"):
        return None
    user = db.session.get(User, int(value)) if value.isdigit() else None
    if user is None or not user.is_staff:
        raise ValidationError("Choose an agent to assign.", {"value": "Not an agent."})
    return user


def _team(value: str) -> Team | None:
    if value in ("", "none"):
        return None
    team = db.session.get(Team, int(value)) if value.isdigit() else None
    if team is None:
        raise ValidationError("Choose a team.", {"value": "Unknown team."})
    return team


def _step(actor: Actor, action: str, value: str):
    """The per-ticket function for an action; checks the value once, up front."""
    if action == "assign":
        user = _assignee(actor, value)
        return lambda t: services.assign(t, actor, assignee=user)
    if action == "team":
        team = _team(value)
        return lambda t: services.assign(t, actor, team=team)
    if action == "status":
        return lambda t: services.change_status(t, actor, value)
    if action == "priority":
        return lambda t: services.change_priority(t, actor, value)
    if action in ("tag", "untag"):
        names = [n for n in value.replace(",", " ").split() if n]
        if not names:
            raise ValidationError("Name a tag.", {"value": "Required."})
        key = "add" if action == "tag" else "remove"
        return lambda t: services.tag(t, actor, **{key: names})
    if action == "merge":
        number = value.strip().lstrip("#")
        if not number.isdigit():
            raise ValidationError("Give the number of the ticket to merge into.", {"value": "#?"})
        target = services.get_ticket(actor, int(number))
        return lambda t: None if t.id == target.id else services.merge(t, target, actor)
    raise ValidationError(
        "Unknown action “%(action)s”.", {"action": "Unknown."}, action=action[:20]
    )


def apply_bulk(actor: Actor, numbers: Sequence[int], action: str, value: str) -> BulkResult:
    """Apply `action` with `value` to each ticket; raises ValidationError only for a bad
    action or value (before touching any ticket)."""
    numbers = list(dict.fromkeys(numbers))
    if not numbers:
        raise ValidationError("Select at least one ticket.", {"tickets": "None selected."})
    if len(numbers) > BULK_MAX:
        raise ValidationError(
            "At most %(max)s tickets at once.", {"tickets": "Too many."}, max=BULK_MAX
        )
    step = _step(actor, action, value)
    result = BulkResult()
    tickets = {
        t.number: t
        for t in db.session.execute(select(Ticket).where(Ticket.number.in_(numbers))).scalars()
    }
    for number in numbers:
        try:
            with db.session.begin_nested():
                ticket = tickets.get(number)
                if ticket is None:
                    raise NotFound("There is no ticket #%(number)s.", number=number)
                services.get_ticket(actor, number)  # the same visibility check as one by one
                step(ticket)
        except DomainError as exc:
            result.failed.append((number, exc))
        else:
            result.done.append(number)
    return result
