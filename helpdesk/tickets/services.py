"""Ticket verbs. Each takes an explicit actor, checks permission and rules, writes the audit
trail and outbox events, and flushes; the caller (request, job, poller) commits."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk import events, storage
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Team, User
from helpdesk.contacts.models import Contact
from helpdesk.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.sanitize import sanitize_html
from helpdesk.tickets import permissions
from helpdesk.tickets.models import (
    Attachment,
    AuditEvent,
    Channel,
    Counter,
    Message,
    MessageKind,
    Participant,
    Priority,
    Tag,
    Ticket,
)
from helpdesk.tickets.states import (
    Status,
    StatusChange,
    check_transition,
    status_after_agent_reply,
    status_after_customer_reply,
)
from helpdesk.timeutil import utcnow
from helpdesk.validation import (
    Upload,
    check_uploads,
    clean_body,
    clean_filename,
    clean_subject,
    clean_tags,
)

FIRST_TICKET_NUMBER = 1000
_KEEP = object()


@dataclass(frozen=True)
class MailHeaders:
    """The threading identifiers of a mail a message came in (or went out) as."""

    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    raw_sha256: str | None = None


def _reopen_days() -> int:
    return current_app.config["HELPDESK_REOPEN_DAYS"]


def _max_attachment_bytes() -> int:
    return current_app.config["HELPDESK_MAX_ATTACHMENT_MB"] * 1024 * 1024


def next_ticket_number() -> int:
    """Allocate the next ticket number; safe with many processes (one atomic UPDATE)."""
    stmt = (
        update(Counter)
        .where(Counter.name == "ticket")
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    number = db.session.execute(stmt).scalar_one_or_none()
    if number is not None:
        return number
    try:
        with db.session.begin_nested():
            db.session.execute(insert(Counter).values(name="ticket", value=FIRST_TICKET_NUMBER - 1))
    except IntegrityError:
        pass  # another process created it first
    return db.session.execute(stmt).scalar_one()


def get_ticket(actor: Actor, number: int) -> Ticket:
    """The ticket with this number, if the actor may see it. Raises NotFound otherwise,
    so a guessed number reveals nothing."""
    ticket = db.session.execute(select(Ticket).where(Ticket.number == number)).scalar_one_or_none()
    if ticket is None or not permissions.can_view_ticket(actor, ticket):
        raise NotFound(f"There is no ticket #{number}.")
    return ticket


def follow_merges(ticket: Ticket) -> Ticket:
    """The ticket that now holds this one's conversation (itself unless merged)."""
    seen = set()
    while ticket.merged_into is not None and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = ticket.merged_into
    return ticket


def _audit(ticket: Ticket | None, actor: Actor, action: str, old=None, new=None) -> None:
    db.session.add(
        AuditEvent(
            ticket_id=ticket.id if ticket is not None else None,
            actor_user_id=actor.user.id if actor.user else None,
            actor_contact_id=actor.contact.id if actor.contact and not actor.user else None,
            actor_label=actor.label[:200],
            action=action,
            old_value=None if old is None else str(old)[:500],
            new_value=None if new is None else str(new)[:500],
            created_at=utcnow(),
        )
    )


def _event_line(ticket: Ticket, actor: Actor, text: str) -> Message:
    message = Message(
        ticket=ticket,
        kind=MessageKind.EVENT,
        channel=Channel.AGENT,
        author_user=actor.user,
        body_text=text,
        created_at=utcnow(),
    )
    db.session.add(message)
    return message


def _touch(ticket: Ticket) -> None:
    ticket.updated_at = utcnow()


def _store_uploads(ticket: Ticket, message: Message, uploads: Sequence[Upload]) -> None:
    for upload in uploads:
        digest = storage.save_blob(upload.data)
        db.session.add(
            Attachment(
                ticket=ticket,
                message=message,
                sha256=digest,
                filename=clean_filename(upload.filename),
                content_type=(upload.content_type or "application/octet-stream")[:127],
                size=len(upload.data),
                inline=upload.inline,
                content_id=upload.content_id,
            )
        )


def _new_message(
    ticket: Ticket,
    actor: Actor,
    kind: MessageKind,
    body: str,
    html: str | None,
    channel: Channel,
    mail: MailHeaders | None,
) -> Message:
    mail = mail or MailHeaders()
    message = Message(
        ticket=ticket,
        kind=kind,
        channel=channel,
        author_user=actor.user,
        author_contact=actor.contact if actor.user is None or not actor.is_staff else None,
        body_text=body,
        body_html=sanitize_html(html) if html else None,
        created_at=utcnow(),
        mail_message_id=mail.message_id,
        mail_in_reply_to=mail.in_reply_to,
        mail_references=mail.references,
        raw_sha256=mail.raw_sha256,
    )
    db.session.add(message)
    return message


def _set_status(ticket: Ticket, actor: Actor, change: StatusChange) -> StatusChange:
    now = utcnow()
    ticket.status = change.new
    if change.new == Status.RESOLVED:
        ticket.resolved_at = now
    elif change.new == Status.CLOSED:
        ticket.closed_at = now
    elif change.old == Status.RESOLVED:
        ticket.resolved_at = None  # reopened: the reopen window starts afresh next time
    _audit(ticket, actor, "status", change.old, change.new)
    _touch(ticket)
    events.publish(
        events.STATUS_CHANGED, ticket_id=ticket.id, old=str(change.old), new=str(change.new)
    )
    return change


def open_ticket(
    actor: Actor,
    *,
    requester: Contact,
    subject: str,
    body: str,
    channel: Channel,
    html: str | None = None,
    priority: Priority | None = None,
    team: Team | None = None,
    uploads: Sequence[Upload] = (),
    mail: MailHeaders | None = None,
    cc: Sequence[Contact] = (),
    follow_up_of: Ticket | None = None,
) -> Ticket:
    """Create a ticket with its first message. Customers may only open their own."""
    if not actor.is_staff and not actor.is_system:
        if actor.contact is None or actor.contact.id != requester.id:
            raise PermissionDenied("You can only open requests for yourself.")
        if priority not in (None, Priority.NORMAL) and not current_app.config.get(
            "HELPDESK_CUSTOMER_PRIORITY", False
        ):
            raise PermissionDenied("Only agents set the priority.")
    subject = clean_subject(subject)
    body = clean_body(body)
    uploads = list(uploads)
    check_uploads(uploads, _max_attachment_bytes())
    now = utcnow()
    ticket = Ticket(
        number=next_ticket_number(),
        subject=subject,
        status=Status.NEW,
        priority=priority or Priority.NORMAL,
        channel=channel,
        requester=requester,
        organization_id=requester.organization_id,
        team=team,
        follow_up_of=follow_up_of,
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    author = actor if not actor.is_staff else Actor.for_contact(requester)
    message = _new_message(ticket, author, MessageKind.REPLY, body, html, channel, mail)
    _store_uploads(ticket, message, uploads)
    for contact in cc:
        if contact.id != requester.id:
            ticket.participants.append(Participant(contact=contact))
    db.session.flush()
    _audit(ticket, actor, "created", None, f"#{ticket.number}")
    if follow_up_of is not None:
        _event_line(ticket, actor, f"Follow-up to #{follow_up_of.number}, which was closed.")
    events.publish(events.TICKET_CREATED, ticket_id=ticket.id, message_id=message.id)
    return ticket


def add_reply(
    ticket: Ticket,
    actor: Actor,
    *,
    body: str,
    channel: Channel,
    html: str | None = None,
    uploads: Sequence[Upload] = (),
    mail: MailHeaders | None = None,
) -> Message:
    """Add a public reply. A customer's reply reopens a pending ticket, or a resolved one
    within the reopen window; on a closed ticket it opens a new, linked ticket (the returned
    message's ticket then differs from the one passed in)."""
    ticket = follow_merges(ticket)
    if not permissions.can_reply(actor, ticket):
        raise NotFound(f"There is no ticket #{ticket.number}.")
    body = clean_body(body)
    uploads = list(uploads)
    check_uploads(uploads, _max_attachment_bytes())
    now = utcnow()
    if actor.is_staff:
        if ticket.status == Status.CLOSED:
            raise InvalidTransition(
                f"#{ticket.number} is closed; open a new ticket to write to the customer."
            )
        new_status = status_after_agent_reply(ticket.status)
        if ticket.first_response_at is None:
            ticket.first_response_at = now
    else:
        new_status = status_after_customer_reply(
            ticket.status, resolved_at=ticket.resolved_at, now=now, reopen_days=_reopen_days()
        )
        if new_status is None:
            follow_up = open_ticket(
                actor,
                requester=actor.contact or ticket.requester,
                subject=ticket.subject,
                body=body,
                html=html,
                channel=channel,
                uploads=uploads,
                mail=mail,
                team=ticket.team,
                follow_up_of=ticket,
            )
            return follow_up.messages[0]
    message = _new_message(ticket, actor, MessageKind.REPLY, body, html, channel, mail)
    _store_uploads(ticket, message, uploads)
    if new_status != ticket.status:
        _set_status(ticket, actor, StatusChange(ticket.status, new_status))
    _touch(ticket)
    db.session.flush()
    events.publish(events.MESSAGE_ADDED, ticket_id=ticket.id, message_id=message.id)
    return message


def add_note(
    ticket: Ticket,
    actor: Actor,
    *,
    body: str,
    html: str | None = None,
    uploads: Sequence[Upload] = (),
) -> Message:
    """Add an internal note: agents only, never shown to the customer."""
    if not permissions.can_view_ticket(actor, ticket):
        raise NotFound(f"There is no ticket #{ticket.number}.")
    if not permissions.can_add_note(actor, ticket):
        raise PermissionDenied("Only agents write internal notes.")
    body = clean_body(body)
    uploads = list(uploads)
    check_uploads(uploads, _max_attachment_bytes())
    message = _new_message(ticket, actor, MessageKind.NOTE, body, html, Channel.AGENT, None)
    _store_uploads(ticket, message, uploads)
    _touch(ticket)
    db.session.flush()
    events.publish(events.MESSAGE_ADDED, ticket_id=ticket.id, message_id=message.id)
    return message


def _require_work(actor: Actor, ticket: Ticket) -> None:
    if not permissions.can_view_ticket(actor, ticket):
        raise NotFound(f"There is no ticket #{ticket.number}.")
    if not permissions.can_work_ticket(actor, ticket):
        raise PermissionDenied("Only agents can do that.")


def change_status(ticket: Ticket, actor: Actor, status: Status | str) -> StatusChange:
    """Move the ticket along the state machine (see states.TRANSITIONS)."""
    if not permissions.can_change_status(actor, ticket):
        raise NotFound(f"There is no ticket #{ticket.number}.")
    try:
        new = Status(status)
    except ValueError:
        raise ValidationError(f"“{status}” is not a status.", {"status": "Unknown."}) from None
    change = check_transition(
        ticket.status,
        new,
        actor.mover,
        resolved_at=ticket.resolved_at,
        now=utcnow(),
        reopen_days=_reopen_days(),
    )
    _set_status(ticket, actor, change)
    db.session.flush()
    return change


def _mark_worked(ticket: Ticket, actor: Actor) -> None:
    """An agent acting on a new ticket makes it open."""
    if actor.is_staff and ticket.status == Status.NEW:
        _set_status(ticket, actor, check_transition(ticket.status, Status.OPEN, actor.mover))


def assign(ticket: Ticket, actor: Actor, *, assignee=_KEEP, team=_KEEP) -> None:
    """Set the assignee and/or team; None clears it. Only agents can be assignees."""
    _require_work(actor, ticket)
    if assignee is not _KEEP and assignee != ticket.assignee:
        if assignee is not None and (not isinstance(assignee, User) or not assignee.is_staff):
            raise ValidationError("Only agents can be assigned.", {"assignee": "Not an agent."})
        if assignee is not None and not assignee.active:
            raise ValidationError(f"{assignee.name} is disabled.", {"assignee": "Disabled."})
        old = ticket.assignee.email if ticket.assignee else None
        ticket.assignee = assignee
        _audit(ticket, actor, "assignee", old, assignee.email if assignee else None)
        events.publish(
            events.ASSIGNED, ticket_id=ticket.id, assignee_id=assignee.id if assignee else None
        )
        if assignee is not None:
            _mark_worked(ticket, actor)
    if team is not _KEEP and team != ticket.team:
        old = ticket.team.name if ticket.team else None
        ticket.team = team
        _audit(ticket, actor, "team", old, team.name if team else None)
        events.publish(events.TICKET_UPDATED, ticket_id=ticket.id, field="team")
    _touch(ticket)
    db.session.flush()


def change_priority(ticket: Ticket, actor: Actor, priority: Priority | str) -> None:
    _require_work(actor, ticket)
    try:
        new = Priority(priority)
    except ValueError:
        raise ValidationError(
            f"“{priority}” is not a priority.", {"priority": "Unknown."}
        ) from None
    if new == ticket.priority:
        return
    _audit(ticket, actor, "priority", ticket.priority, new)
    ticket.priority = new
    _touch(ticket)
    events.publish(events.TICKET_UPDATED, ticket_id=ticket.id, field="priority")
    db.session.flush()


def _tag_rows(names: list[str]) -> list[Tag]:
    existing = {
        t.name: t for t in db.session.execute(select(Tag).where(Tag.name.in_(names))).scalars()
    }
    rows = []
    for name in names:
        if name not in existing:
            try:
                with db.session.begin_nested():
                    tag = Tag(name=name)
                    db.session.add(tag)
                    db.session.flush()
            except IntegrityError:  # another process created it at the same moment
                tag = db.session.execute(select(Tag).where(Tag.name == name)).scalar_one()
            existing[name] = tag
        rows.append(existing[name])
    return rows


def tag(ticket: Ticket, actor: Actor, *, add: Sequence[str] = (), remove: Sequence[str] = ()):
    """Add and remove tags."""
    _require_work(actor, ticket)
    to_add = clean_tags(list(add))
    to_remove = set(clean_tags(list(remove)))
    current = [t.name for t in ticket.tags]
    wanted = [n for n in current if n not in to_remove] + [
        n for n in to_add if n not in current and n not in to_remove
    ]
    clean_tags(wanted)  # the per-ticket limit
    if wanted == current:
        return
    ticket.tags = _tag_rows(wanted)
    _audit(ticket, actor, "tags", ", ".join(current), ", ".join(wanted))
    _touch(ticket)
    events.publish(events.TICKET_UPDATED, ticket_id=ticket.id, field="tags")
    db.session.flush()


def merge(source: Ticket, target: Ticket, actor: Actor) -> None:
    """Move `source`'s conversation into `target` and close `source`; later mail to
    `source` follows to `target`."""
    _require_work(actor, source)
    _require_work(actor, target)
    if source.id == target.id:
        raise ValidationError("A ticket cannot be merged into itself.", {"target": "Same."})
    if follow_merges(target).id == source.id or target.merged_into_id is not None:
        raise ValidationError(
            f"#{target.number} was itself merged; merge into the ticket it went into.",
            {"target": "Merged."},
        )
    if target.status == Status.CLOSED:
        raise InvalidTransition(f"#{target.number} is closed; merge into an open ticket.")
    change = check_transition(source.status, Status.CLOSED, actor.mover)
    for message in list(source.messages):
        message.ticket = target
    for attachment in db.session.execute(
        select(Attachment).where(Attachment.ticket_id == source.id)
    ).scalars():
        attachment.ticket_id = target.id
    known = {target.requester_id} | {p.contact_id for p in target.participants}
    for contact_id in [source.requester_id] + [p.contact_id for p in source.participants]:
        if contact_id not in known:
            target.participants.append(Participant(contact_id=contact_id))
            known.add(contact_id)
    source.merged_into = target
    _event_line(source, actor, f"Merged into #{target.number}.")
    _event_line(target, actor, f"#{source.number} was merged into this ticket.")
    _audit(source, actor, "merged_into", None, f"#{target.number}")
    _audit(target, actor, "merged_from", None, f"#{source.number}")
    _set_status(source, actor, change)
    _touch(target)
    db.session.flush()


def close_resolved_tickets(now: datetime | None = None, limit: int = 500) -> int:
    """Close tickets resolved longer ago than the reopen window (periodic work)."""
    from datetime import timedelta

    now = now or utcnow()
    cutoff = now - timedelta(days=_reopen_days())
    system = Actor.system()
    tickets = db.session.execute(
        select(Ticket)
        .where(Ticket.status == Status.RESOLVED, Ticket.resolved_at < cutoff)
        .order_by(Ticket.resolved_at)
        .limit(limit)
    ).scalars()
    closed = 0
    for ticket in tickets:
        _set_status(ticket, system, check_transition(ticket.status, Status.CLOSED, system.mover))
        closed += 1
    db.session.flush()
    return closed


def reassign_requester(old: Contact, new: Contact) -> None:
    """Fold an address-only contact into another: its addresses and tickets move over."""
    for ticket in db.session.execute(select(Ticket).where(Ticket.requester_id == old.id)).scalars():
        ticket.requester = new
        ticket.organization_id = ticket.organization_id or new.organization_id
    db.session.execute(
        update(Message).where(Message.author_contact_id == old.id).values(author_contact_id=new.id)
    )
    for entry in list(old.emails):
        entry.contact = new
    db.session.flush()
    db.session.delete(old)
    db.session.flush()
