"""Changing a ticket's fields from a form that was loaded at some version of the ticket."""

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Team, User
from helpdesk.tickets import services
from helpdesk.tickets.collisions import check_version
from helpdesk.tickets.models import Ticket

KEEP = object()  # "leave as it is"


def update_fields(
    ticket: Ticket,
    actor: Actor,
    *,
    loaded_version: int | None,
    status: str | None = None,
    priority: str | None = None,
    assignee: User | None | object = KEEP,
    team: Team | None | object = KEEP,
) -> list[str]:
    """Apply the fields that differ from the ticket's; returns the names of those changed.

    Raises Conflict when the ticket changed since `loaded_version`: nothing is overwritten."""
    check_version(ticket, loaded_version)
    changed = []
    if assignee is not KEEP and assignee != ticket.assignee:
        services.assign(ticket, actor, assignee=assignee)
        changed.append("assignee")
    if team is not KEEP and team != ticket.team:
        services.assign(ticket, actor, team=team)
        changed.append("team")
    if priority and priority != ticket.priority:
        services.change_priority(ticket, actor, priority)
        changed.append("priority")
    # Last: assigning may already have moved a new ticket to open.
    if status and status != ticket.status:
        services.change_status(ticket, actor, status)
        changed.append("status")
    return changed
