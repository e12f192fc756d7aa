"""Ticket verbs. Each takes an explicit actor, checks permission and rules, writes the audit
trail and outbox events, and flushes; the caller (request, job, poller) commits. Inside
`one_flush()` the verbs that create rows leave the flush to the caller, who groups several
verbs' writes into one (the mail poller applies a mail that way)."""

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from helpdesk import audit, events, storage
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import Team, User
from helpdesk.contacts.models import Contact
from helpdesk.errors import InvalidTransition, NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.sanitize import sanitize_html
from helpdesk.tickets import permissions
from helpdesk.tickets.models import (
    Attachment,
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

# Inside one_flush(): what waits for the new rows' ids (the events that name them).
_waiting: ContextVar[list[Callable[[], None]] | None] = ContextVar("waiting", default=None)


@contextlib.contextmanager
def one_flush() -> Iterator[Callable[[], None]]:
    """Group several verbs' writes into one flush. Yields `flush`, which the caller calls
    once, at the end: it flushes, then publishes what waited for the new rows' ids. Left
    without calling it (an error), nothing waiting is published."""
    waiting: list[Callable[[], None]] = []
    token = _waiting.set(waiting)

    def flush() -> None:
        db.session.flush()
        while waiting:
            waiting.pop(0)()

    try:
        yield flush
    finally:
        _waiting.reset(token)


def once_flushed(action: Callable[[], None]) -> None:
    """Run `action` once the pending rows have ids: after a flush now, or, inside
    one_flush(), after the caller's flush."""
    waiting = _waiting.get()
    if waiting is None:
        db.session.flush()
        action()
    else:
        waiting.append(action)


@dataclass(frozen=True)
class MailHeaders:
    """The threading identifiers of a mail a message came in (or went out) as."""

    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    raw_sha256: str | None = None


def _reopen_days() -> int:
    from helpdesk.settings import get_setting

    with db.session.no_autoflush:  # a setting does not depend on what is pending
        return int(get_setting("reopen_days"))


def _customer_sets_priority() -> bool:
    from helpdesk.settings import get_setting

    with db.session.no_autoflush:
        return bool(get_setting("customer_priority"))


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
    # The counter does not depend on what is pending: that is flushed with the new ticket.
    with db.session.no_autoflush:
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
        raise NotFound("There is no ticket #%(number)s.", number=number)
    return ticket


def follow_merges(ticket: Ticket) -> Ticket:
    """The ticket that now holds this one's conversation (itself unless merged)."""
    seen = set()
    while ticket.merged_into is not None and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = ticket.merged_into
    return ticket


def _audit(ticket: Ticket | None, actor: Actor, action: str, old=None, new=None) -> None:
    audit.record(actor, action, old, new, ticket=ticket)


def add_event_line(ticket: Ticket, actor: Actor, text: str) -> Message:
    """A line in the ticket's history ("Merged into #1042."), by the acting agent."""
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
    mail_html: str | None = None,
) -> Message:
    mail = mail or MailHeaders()
    if mail_html is None:
        mail_html = sanitize_html(html) if html else None
    message = Message(
        ticket=ticket,
        kind=kind,
        channel=channel,
        author_user=actor.user,
        author_contact=actor.contact if actor.user is None or not actor.is_staff else None,
        body_text=body,
        body_html=mail_html,
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
    mail_html: str | None = None,
    cc: Sequence[Contact] = (),
    follow_up_of: Ticket | None = None,
) -> Ticket:
    """Create a ticket with its first message. Customers may only open their own.
    `mail_html` is a mail's HTML that the mail parser sanitized (kept as it is, cid: images
    and blocked remote content included); `html` is anyone's, sanitized here."""
    if not actor.is_staff and not actor.is_system:
        if actor.contact is None or actor.contact.id != requester.id:
            raise PermissionDenied("You can only open requests for yourself.")
        if priority not in (None, Priority.NORMAL) and not _customer_sets_priority():
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
        organization=requester.organization,
        team=team,
        follow_up_of=follow_up_of,
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    # The first message is the requester's words, whoever types them in (agent, mail, system).
    author = Actor.for_contact(requester)
    message = _new_message(ticket, author, MessageKind.REPLY, body, html, channel, mail, mail_html)
    _store_uploads(ticket, message, uploads)
    for contact in cc:
        if contact.id != requester.id:
            ticket.participants.append(Participant(contact=contact))
    _audit(ticket, actor, "created", None, f"#{ticket.number}")
    if follow_up_of is not None:
        add_event_line(ticket, actor, f"Follow-up to #{follow_up_of.number}, which was closed.")
    once_flushed(
        lambda: events.publish(events.TICKET_CREATED, ticket_id=ticket.id, message_id=message.id)
    )
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
    mail_html: str | None = None,
    from_new_participant: bool = False,
) -> Message:
    """Add a public reply. A customer's reply reopens a pending ticket, or a resolved one
    within the reopen window; on a closed ticket it opens a new, linked ticket (the returned
    message's ticket then differs from the one passed in). `mail_html`: see open_ticket.
    `from_new_participant`: the mail's sender joined the ticket with it."""
    ticket = follow_merges(ticket)
    if not permissions.can_reply(actor, ticket):
        raise NotFound("There is no ticket #%(number)s.", number=ticket.number)
    body = clean_body(body)
    uploads = list(uploads)
    check_uploads(uploads, _max_attachment_bytes())
    now = utcnow()
    if actor.is_staff:
        if ticket.status == Status.CLOSED:
            raise InvalidTransition(
                "#%(number)s is closed; open a new ticket to write to the customer.",
                number=ticket.number,
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
                mail_html=mail_html,
                team=ticket.team,
                follow_up_of=ticket,
            )
            follow_up.messages[0].from_new_participant = from_new_participant
            return follow_up.messages[0]
    message = _new_message(ticket, actor, MessageKind.REPLY, body, html, channel, mail, mail_html)
    message.from_new_participant = from_new_participant
    _store_uploads(ticket, message, uploads)
    if new_status != ticket.status:
        _set_status(ticket, actor, StatusChange(ticket.status, new_status))
    _touch(ticket)
    once_flushed(
        lambda: events.publish(events.MESSAGE_ADDED, ticket_id=ticket.id, message_id=message.id)
    )
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
        raise NotFound("There is no ticket #%(number)s.", number=ticket.number)
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
        raise NotFound("There is no ticket #%(number)s.", number=ticket.number)
    if not permissions.can_work_ticket(actor, ticket):
        raise PermissionDenied("Only agents can do that.")


def change_status(ticket: Ticket, actor: Actor, status: Status | str) -> StatusChange:
    """Move the ticket along the state machine (see states.TRANSITIONS)."""
    if not permissions.can_change_status(actor, ticket):
        raise NotFound("There is no ticket #%(number)s.", number=ticket.number)
    try:
        new = Status(status)
    except ValueError:
        raise ValidationError(
            "“%(status)s” is not a status.", {"status": "Unknown."}, status=status
        ) from None
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
            raise ValidationError(
                "%(name)s is disabled.", {"assignee": "Disabled."}, name=assignee.name
            )
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
            "“%(priority)s” is not a priority.", {"priority": "Unknown."}, priority=priority
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
    # Sorted, so the audit trail reads the same whether or not the session was reloaded.
    current = sorted(t.name for t in ticket.tags)
    wanted = sorted((set(current) | set(to_add)) - to_remove)
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
            "#%(number)s was itself merged; merge into the ticket it went into.",
            {"target": "Merged."},
            number=target.number,
        )
    if target.status == Status.CLOSED:
        raise InvalidTransition(
            "#%(number)s is closed; merge into an open ticket.", number=target.number
        )
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
    add_event_line(source, actor, f"Merged into #{target.number}.")
    add_event_line(target, actor, f"#{source.number} was merged into this ticket.")
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
    db.session.flush()
    # Where `old` was copied in, `new` follows instead (the row would go with `old`).
    copied = select(Participant).where(Participant.contact_id == old.id)
    for entry in db.session.execute(copied).scalars().all():
        ticket = entry.ticket
        ticket.participants.remove(entry)
        if new.id != ticket.requester_id and all(
            p.contact_id != new.id for p in ticket.participants
        ):
            ticket.participants.append(Participant(contact_id=new.id))
    db.session.execute(
        update(Message).where(Message.author_contact_id == old.id).values(author_contact_id=new.id)
    )
    for entry in list(old.emails):
        entry.contact = new
    db.session.flush()
    db.session.delete(old)
    db.session.flush()


# --- console verbs: participants, split, spam, delete ----------------------------------------


def add_participant(ticket: Ticket, actor: Actor, *, email: str, name: str | None = None):
    """Copy someone in (Cc) on the ticket, by address; returns their contact."""
    from helpdesk.contacts.services import find_or_create_contact

    _require_work(actor, ticket)
    contact = find_or_create_contact(email, name)
    if contact.id == ticket.requester_id:
        raise ValidationError(
            "%(address)s is the requester already.",
            {"email": "The requester."},
            address=contact.primary_email,
        )
    if any(p.contact_id == contact.id for p in ticket.participants):
        return contact
    ticket.participants.append(Participant(contact=contact))
    _audit(ticket, actor, "participant_added", None, contact.primary_email)
    _touch(ticket)
    events.publish(events.TICKET_UPDATED, ticket_id=ticket.id, field="participants")
    db.session.flush()
    return contact


def remove_participant(ticket: Ticket, actor: Actor, *, contact_id: int) -> None:
    """Stop copying someone in; they no longer see the ticket unless they asked it."""
    _require_work(actor, ticket)
    entry = next((p for p in ticket.participants if p.contact_id == contact_id), None)
    if entry is None:
        raise NotFound("That person is not copied in on this ticket.")
    ticket.participants.remove(entry)
    _audit(ticket, actor, "participant_removed", entry.contact.primary_email, None)
    _touch(ticket)
    events.publish(events.TICKET_UPDATED, ticket_id=ticket.id, field="participants")
    db.session.flush()


def split_message(message: Message, actor: Actor, *, subject: str | None = None) -> Ticket:
    """Move one message (and its files) out into a new ticket of its own, for its author."""
    source = message.ticket
    _require_work(actor, source)
    if message.kind == MessageKind.EVENT:
        raise ValidationError("History lines cannot be split off.", {"message": "An event."})
    others = [m for m in source.messages if m.id != message.id and m.kind != MessageKind.EVENT]
    if not others:
        raise ValidationError(
            "This is the ticket's only message; there is nothing to split it from.",
            {"message": "The only one."},
        )
    requester = message.author_contact or source.requester
    now = utcnow()
    ticket = Ticket(
        number=next_ticket_number(),
        subject=clean_subject(subject or source.subject),
        status=Status.NEW,
        priority=source.priority,
        channel=message.channel,
        requester=requester,
        organization=requester.organization,
        team=source.team,
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    db.session.flush()
    message.ticket = ticket
    db.session.execute(
        update(Attachment).where(Attachment.message_id == message.id).values(ticket_id=ticket.id)
    )
    add_event_line(source, actor, f"A message was split off into #{ticket.number}.")
    add_event_line(ticket, actor, f"Split off from #{source.number}.")
    _audit(source, actor, "split_to", None, f"#{ticket.number}")
    _audit(ticket, actor, "created", None, f"#{ticket.number} (split from #{source.number})")
    _touch(source)
    db.session.flush()
    events.publish(events.TICKET_CREATED, ticket_id=ticket.id, message_id=message.id)
    return ticket


def mark_spam(ticket: Ticket, actor: Actor, *, block: str = "address") -> str | None:
    """Close the ticket as spam (tagged "spam") and block its sender: "address", "domain"
    or "none". Returns the blocked pattern, if any."""
    from helpdesk.tickets import blocklist

    _require_work(actor, ticket)
    if block not in ("address", "domain", "none"):
        raise ValidationError("Block the address, the domain, or nothing.", {"block": "Unknown."})
    tag(ticket, actor, add=["spam"])
    if ticket.status != Status.CLOSED:
        _set_status(ticket, actor, check_transition(ticket.status, Status.CLOSED, actor.mover))
    pattern = None
    address = ticket.requester.primary_email
    if block != "none" and address:
        pattern = blocklist.pattern_for(address, whole_domain=block == "domain")
        blocklist.block(
            pattern,
            reason=f"spam: #{ticket.number}",
            by_user_id=actor.user.id if actor.user else None,
        )
    _audit(ticket, actor, "spam", None, pattern or "not blocked")
    db.session.flush()
    return pattern


def delete_ticket(ticket: Ticket, actor: Actor) -> None:
    """Delete the ticket and its whole history (admins). The audit trail keeps a line."""
    if not permissions.can_view_ticket(actor, ticket):
        raise NotFound("There is no ticket #%(number)s.", number=ticket.number)
    if not permissions.can_delete_ticket(actor):
        raise PermissionDenied("Only administrators delete tickets.")
    for column in (Ticket.merged_into_id, Ticket.follow_up_of_id):
        db.session.execute(
            update(Ticket)
            .where(column == ticket.id)
            .values({column.key: None, "version": Ticket.version + 1})
            .execution_options(synchronize_session="fetch")
        )
    _audit(None, actor, "ticket_deleted", f"#{ticket.number} {ticket.subject}", None)
    db.session.delete(ticket)
    db.session.flush()


# --- inbound mail: automatic messages, participants who join by mail, a mail's files ---------


def add_automatic_message(
    ticket: Ticket,
    *,
    author: Contact | None,
    body: str,
    internal: bool = False,
    mail: MailHeaders | None = None,
    mail_html: str | None = None,
) -> Message:
    """Attach automatic mail (an out-of-office, a read receipt, a bounce) to the ticket.

    Flagged automatic; it never reopens the ticket or changes its status, and nobody is
    told (an answer to a machine is how mail loops start). `internal` makes it agent-only.
    """
    ticket = follow_merges(ticket)
    actor = Actor.for_contact(author) if author is not None else Actor.system()
    kind = MessageKind.NOTE if internal else MessageKind.REPLY
    body = clean_body(body, required=False) or "(no text)"
    message = _new_message(ticket, actor, kind, body, None, Channel.EMAIL, mail, mail_html)
    message.automatic = True
    once_flushed(
        lambda: events.publish(
            events.MESSAGE_ADDED, ticket_id=ticket.id, message_id=message.id, automatic=True
        )
    )
    return message


def add_mail_participant(ticket: Ticket, contact: Contact, actor: Actor | None = None) -> bool:
    """Put someone who wrote to the ticket by mail on it; False if they were already. Not
    flushed here: the reply it comes with is (add_reply). The audit names `actor` (an agent
    who moved their mail here), else the sender."""
    if contact.id == ticket.requester_id or any(
        p.contact_id == contact.id for p in ticket.participants
    ):
        return False
    # The id too: the reply's permission check reads it before the flush.
    ticket.participants.append(Participant(contact=contact, contact_id=contact.id))
    actor = actor or Actor.for_contact(contact)
    _audit(ticket, actor, "participant_added", None, contact.primary_email or contact.name)
    return True


def add_mail_attachments(message: Message, uploads: Sequence[Upload]) -> None:
    """Keep every file a mail carried, as it came: the upload limits are for people
    choosing files, and the mail was accepted whole (its size limit applies before). Not
    flushed here: they are written with the mail's record (helpdesk.mail.ingest)."""
    _store_uploads(message.ticket, message, list(uploads))


# --- outbound mail ---------------------------------------------------------------------------


def resend_message(message: Message, actor: Actor) -> int:
    """Send an agent's reply that was not delivered once more (now, then with the usual
    retries); returns how many mails were queued. Raises ValidationError if it was delivered."""
    from helpdesk.mail import delivery
    from helpdesk.tickets.models import Delivery

    ticket = message.ticket
    _require_work(actor, ticket)
    failed = [r for r in delivery.mails_of(message) if r.status == delivery.MailStatus.FAILED]
    if message.kind != MessageKind.REPLY or message.delivery != Delivery.FAILED or not failed:
        raise ValidationError(
            "Only a reply that was not delivered can be sent again.", {"message": "Not failed."}
        )
    for row in failed:
        delivery.requeue(row)
    _audit(ticket, actor, "mail_resent", None, ", ".join(r.to_address for r in failed))
    db.session.flush()
    return len(failed)
