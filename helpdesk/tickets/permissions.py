"""Who may see and do what with a ticket. The same rules in Python and as SQL filters."""

from sqlalchemy import ColumnElement, false, or_, select, true

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import team_members
from helpdesk.tickets.models import Participant, Ticket


def _agent_team_ids(actor: Actor) -> set[int]:
    return {team.id for team in actor.user.teams} if actor.user else set()


def _agent_covers(actor: Actor, ticket: Ticket) -> bool:
    """An agent works their teams' tickets, unrouted ones, and those assigned to them."""
    user = actor.user
    if user.all_teams or ticket.team_id is None or ticket.assignee_id == user.id:
        return True
    return ticket.team_id in _agent_team_ids(actor)


def _customer_covers(actor: Actor, ticket: Ticket) -> bool:
    contact = actor.contact
    if contact is None:
        return False
    if ticket.requester_id == contact.id:
        return True
    if any(p.contact_id == contact.id for p in ticket.participants):
        return True
    return bool(
        actor.user is not None
        and actor.user.org_manager
        and contact.organization_id is not None
        and ticket.organization_id == contact.organization_id
    )


def can_view_ticket(actor: Actor, ticket: Ticket) -> bool:
    if actor.is_system or actor.is_admin:
        return True
    if actor.is_staff:
        return _agent_covers(actor, ticket)
    return _customer_covers(actor, ticket)


def can_reply(actor: Actor, ticket: Ticket) -> bool:
    return can_view_ticket(actor, ticket)


def can_see_notes(actor: Actor) -> bool:
    return actor.is_staff or actor.is_system


def can_add_note(actor: Actor, ticket: Ticket) -> bool:
    return actor.is_staff and can_view_ticket(actor, ticket)


def can_work_ticket(actor: Actor, ticket: Ticket) -> bool:
    """Assign, change priority, tag, merge: agents on tickets they cover."""
    return (actor.is_staff or actor.is_system) and can_view_ticket(actor, ticket)


def can_change_status(actor: Actor, ticket: Ticket) -> bool:
    """Agents on their tickets; customers on theirs (which transitions: see states)."""
    return can_view_ticket(actor, ticket)


def can_delete_ticket(actor: Actor) -> bool:
    return actor.is_admin


def can_manage_users(actor: Actor) -> bool:
    return actor.is_admin


def visible_tickets_filter(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause selecting exactly the tickets `can_view_ticket` allows."""
    if actor.is_system or actor.is_admin:
        return true()
    if actor.is_staff:
        user = actor.user
        if user.all_teams:
            return true()
        my_teams = select(team_members.c.team_id).where(team_members.c.user_id == user.id)
        return or_(
            Ticket.team_id.is_(None), Ticket.assignee_id == user.id, Ticket.team_id.in_(my_teams)
        )
    contact = actor.contact
    if contact is None:
        return false()
    clauses = [
        Ticket.requester_id == contact.id,
        Ticket.id.in_(select(Participant.ticket_id).where(Participant.contact_id == contact.id)),
    ]
    if actor.user is not None and actor.user.org_manager and contact.organization_id:
        clauses.append(Ticket.organization_id == contact.organization_id)
    return or_(*clauses)
