"""Tickets: list, open, read, change, merge. Each view: load, check, call services, answer."""

from flask import request, url_for
from sqlalchemy import select
from werkzeug.exceptions import PreconditionFailed

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Team, User
from helpdesk.accounts.services import find_user_by_email
from helpdesk.api import serialize
from helpdesk.api.auth import api_actor
from helpdesk.api.openapi import IF_MATCH
from helpdesk.api.queries import as_id, find_tickets
from helpdesk.api.routing import operation, to_response
from helpdesk.api.schemas import tickets as s
from helpdesk.contacts.services import find_or_create_contact
from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets import services
from helpdesk.tickets.models import Channel, Ticket
from helpdesk.validation import clean_email, clean_tags

TAG = "Tickets"
ETAG = {"ETag": "The ticket's current version; send it back in If-Match to update safely."}


def ticket_response(ticket: Ticket, status: int = 200, headers: dict | None = None):
    response = to_response((serialize.ticket(ticket), status, headers or {}))
    response.set_etag(f"v{ticket.version}")
    return response


def resolve_assignee(actor: Actor, value: int | str | None) -> User | None:
    """A user by id, e-mail address or `me`; None stays None (unassigned)."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() == "me":
        user = actor.user
    elif (user_id := as_id(text)) is not None:
        user = db.session.get(User, user_id)
    else:
        user = find_user_by_email(text)
    if user is None:
        raise ValidationError(f"There is no user {text[:100]}.", {"assignee": "Unknown user."})
    return user


def resolve_team(value: int | str | None) -> Team | None:
    if value is None:
        return None
    text = str(value).strip()
    if (team_id := as_id(text)) is not None:
        team = db.session.get(Team, team_id)
    else:
        team = db.session.execute(select(Team).where(Team.name == text)).scalar_one_or_none()
    if team is None:
        raise ValidationError(f"There is no team {text[:100]}.", {"team": "Unknown team."})
    return team


@operation(
    "GET",
    "/tickets",
    summary="List tickets",
    tag=TAG,
    query=s.TicketQuery,
    responses={200: s.TicketList},
)
def list_tickets(query: s.TicketQuery):
    """Tickets the token's user may see, most recently updated first. Page with `cursor`."""
    tickets, next_cursor = find_tickets(api_actor(), query)
    return s.TicketList(items=[serialize.ticket(t) for t in tickets], next_cursor=next_cursor)


def _requester_for(actor: Actor, body: s.TicketCreate):
    if actor.is_staff:
        if not body.requester_email:
            raise ValidationError(
                "Say who the ticket is for.", {"requester_email": "Required for agents."}
            )
        return find_or_create_contact(body.requester_email, body.requester_name)
    staff_only = {"team", "assignee", "tags"} & body.model_fields_set
    if staff_only:
        raise PermissionDenied(f"Only agents set {', '.join(sorted(staff_only))}.")
    contact = actor.contact
    if contact is None:
        raise PermissionDenied("This account cannot open requests.")
    if body.requester_email:
        address = clean_email(body.requester_email, field="requester_email")
        if address not in {entry.email for entry in contact.emails}:
            raise PermissionDenied("You can only open requests for yourself.")
    return contact


@operation(
    "POST",
    "/tickets",
    summary="Open a ticket",
    tag=TAG,
    body=s.TicketCreate,
    multipart=True,
    responses={201: s.Ticket},
    response_headers={"Location": "The new ticket's URL.", **ETAG},
    errors=(403, 409),
)
def create_ticket(body: s.TicketCreate, uploads):
    """A customer opens a request for themselves; an agent opens one on behalf of a requester
    (by e-mail address; a new address becomes a new contact)."""
    actor = api_actor()
    requester = _requester_for(actor, body)
    ticket = services.open_ticket(
        actor,
        requester=requester,
        subject=body.subject,
        body=body.body,
        html=body.html,
        channel=Channel.API,
        priority=body.priority,
        team=resolve_team(body.team),
        uploads=uploads,
    )
    if body.assignee is not None:
        services.assign(ticket, actor, assignee=resolve_assignee(actor, body.assignee))
    if body.tags:
        services.tag(ticket, actor, add=body.tags)
    db.session.flush()
    location = url_for("api.get_ticket", number=ticket.number)
    return ticket_response(ticket, 201, {"Location": location})


@operation(
    "GET",
    "/tickets/<dbid:number>",
    summary="Read a ticket",
    tag=TAG,
    responses={200: s.Ticket},
    response_headers=ETAG,
)
def get_ticket(number: int):
    return ticket_response(services.get_ticket(api_actor(), number))


def _check_if_match(ticket: Ticket) -> None:
    if request.if_match and not request.if_match.contains(f"v{ticket.version}"):
        raise PreconditionFailed(
            f"#{ticket.number} changed since you read it (it is now version {ticket.version})."
        )


@operation(
    "PATCH",
    "/tickets/<dbid:number>",
    summary="Change a ticket",
    tag=TAG,
    body=s.TicketUpdate,
    responses={200: s.Ticket},
    response_headers=ETAG,
    errors=(403, 409, 412),
    headers=(IF_MATCH,),
)
def update_ticket(number: int, body: s.TicketUpdate):
    """Status (customers too, within the status rules), and for agents priority, assignee,
    team and tags. With If-Match, a ticket changed since it was read is not touched (412)."""
    actor = api_actor()
    ticket = services.get_ticket(actor, number)
    _check_if_match(ticket)
    given = body.model_fields_set
    if "team" in given:
        services.assign(ticket, actor, team=resolve_team(body.team))
    if "assignee" in given:
        services.assign(ticket, actor, assignee=resolve_assignee(actor, body.assignee))
    if body.priority is not None:
        services.change_priority(ticket, actor, body.priority)
    if body.tags is not None:
        wanted = clean_tags(body.tags)
        dropped = [t.name for t in ticket.tags if t.name not in wanted]
        services.tag(ticket, actor, add=wanted, remove=dropped)
    if body.status is not None and body.status != ticket.status:
        services.change_status(ticket, actor, body.status)
    db.session.flush()
    return ticket_response(ticket)


@operation(
    "POST",
    "/tickets/<dbid:number>/merge",
    summary="Merge a ticket into another",
    tag=TAG,
    body=s.TicketMerge,
    responses={200: s.Ticket},
    response_headers=ETAG,
    errors=(403, 409),
)
def merge_ticket(number: int, body: s.TicketMerge):
    """Moves this ticket's conversation into `into` and closes it; answers with `into`."""
    actor = api_actor()
    source = services.get_ticket(actor, number)
    target = services.get_ticket(actor, body.into)
    services.merge(source, target, actor)
    db.session.flush()
    return ticket_response(target)
