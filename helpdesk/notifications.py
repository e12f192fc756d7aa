"""What the helpdesk tells people when something happens (outbox handlers).

Customers hear of a new ticket (the acknowledgement), every public agent reply (Cc'd
participants too), an assignment, a ticket waiting on them, resolved (with a "this is not
solved" link) and closed; the business switches each notice on or off (the `notify_*`
settings), replies always go. Agents hear of a new ticket in their team, a ticket assigned to
them, a customer's reply on their ticket and an @mention; each agent can turn each off.

Each handler decides who gets which mail and hands it to helpdesk.mail.compose, which records
it (helpdesk.mail.delivery.SentMail) and sends it at once; what the server does not take is
retried by a `mail.deliver` outbox item. Automatic mail to customers obeys helpdesk.mail.loops.
"""

import os
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk import events, settings, storage
from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import User
from helpdesk.contacts.models import Contact
from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.i18n import DEFAULT_LOCALE, supported_locale
from helpdesk.mail import compose, delivery, loops, outbound
from helpdesk.mail.autodetect import classify
from helpdesk.mail.delivery import SentMail
from helpdesk.mail.parse import parse_message
from helpdesk.outbox.runner import handler
from helpdesk.tickets.models import AuditEvent, Channel, Delivery, Message, MessageKind, Ticket
from helpdesk.tickets.states import Status
from helpdesk.timeutil import utcnow

# Outbox kinds, one per subscriber (each retries alone). ACKNOWLEDGE keeps its first name.
ACKNOWLEDGE = "notify.acknowledge"
REPLY = "notify.reply"
ASSIGNED = "notify.assigned"
STATUS = "notify.status"
AGENTS_NEW_TICKET = "notify.agents_new_ticket"
AGENT_ASSIGNED = "notify.agent_assigned"
AGENT_CUSTOMER_REPLY = "notify.agent_customer_reply"
AGENT_MENTION = "notify.agent_mention"
NOTE_MENTIONED = "note.mentioned"  # published by the console (helpdesk.tickets.mentions)
TOO_LARGE_NOTICE = "mail.too_large_notice"  # queued by helpdesk.mail.ingest

events.subscribe(events.TICKET_CREATED, ACKNOWLEDGE)
events.subscribe(events.TICKET_CREATED, AGENTS_NEW_TICKET)
events.subscribe(events.MESSAGE_ADDED, REPLY)
events.subscribe(events.MESSAGE_ADDED, AGENT_CUSTOMER_REPLY)
events.subscribe(events.ASSIGNED, ASSIGNED)
events.subscribe(events.ASSIGNED, AGENT_ASSIGNED)
events.subscribe(events.STATUS_CHANGED, STATUS)
events.subscribe(NOTE_MENTIONED, AGENT_MENTION)

NOTICES = ("acknowledge", "assigned", "pending", "resolved", "closed")
AGENT_EVENTS = ("new_ticket", "assigned", "customer_reply", "mention")
ACKNOWLEDGED_CHANNELS = (Channel.PORTAL, Channel.EMAIL, Channel.API)
SEPARATORS = ("+", "-", "=", "_")
# A status change the same agent made with a reply is told by that reply's mail.
WITH_REPLY = timedelta(seconds=60)


# --- settings ----------------------------------------------------------------------------------


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("Give true or false.", {"value": "Not a yes/no value."})
    return value


def _separator(value) -> str:
    if value not in SEPARATORS:
        raise ValidationError(
            "The separator is one of %(separators)s.",
            {"value": "Unknown."},
            separators=" ".join(SEPARATORS),
        )
    return value


# Business settings (helpdesk.settings): which notices go out, and how replies find us.
for _notice in NOTICES:
    settings.DEFINITIONS.setdefault(
        f"notify_{_notice}", settings.Definition(f"HELPDESK_NOTIFY_{_notice.upper()}", _flag)
    )
settings.DEFINITIONS.setdefault(
    "reply_to_plus", settings.Definition("HELPDESK_REPLY_TO_PLUS", _flag)
)
settings.DEFINITIONS.setdefault(
    "reply_to_separator", settings.Definition("HELPDESK_REPLY_TO_SEPARATOR", _separator)
)


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def init_app(app: Flask) -> None:
    """Defaults for the outbound-mail settings, and the "this is not solved" pages."""
    from helpdesk.mail import links_views

    for notice in NOTICES:
        key = f"HELPDESK_NOTIFY_{notice.upper()}"
        app.config.setdefault(key, _env_flag(key, True))
    app.config.setdefault("HELPDESK_REPLY_TO_PLUS", _env_flag("HELPDESK_REPLY_TO_PLUS", True))
    app.config.setdefault(
        "HELPDESK_REPLY_TO_SEPARATOR", os.environ.get("HELPDESK_REPLY_TO_SEPARATOR", "+")
    )
    for key, default in (
        ("HELPDESK_AUTO_MAIL_PER_RECIPIENT_HOUR", 5),
        ("HELPDESK_AUTO_MAIL_PER_TICKET_HOUR", 10),
        ("HELPDESK_SMTP_TIMEOUT", 30),
    ):
        app.config.setdefault(key, int(os.environ.get(key, default)))
    app.register_blueprint(links_views.bp)


def _notice_on(notice: str) -> bool:
    return bool(settings.get_setting(f"notify_{notice}"))


# --- agents' choices ---------------------------------------------------------------------------


class AgentNotificationOptOut(db.Model):
    """An agent who turned one kind of notification off (no row: it is on)."""

    __tablename__ = "agent_notification_optouts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    event: Mapped[str] = mapped_column(String(40), primary_key=True)


def agent_notifications(user: User) -> dict[str, bool]:
    """Which notifications the agent gets, by event."""
    off = set(
        db.session.execute(
            select(AgentNotificationOptOut.event).where(AgentNotificationOptOut.user_id == user.id)
        ).scalars()
    )
    return {event: event not in off for event in AGENT_EVENTS}


def set_agent_notification(actor: Actor, user: User, event: str, enabled: bool) -> None:
    """Turn one notification on or off for an agent (themselves, or any agent for an admin)."""
    if not actor.is_admin and (actor.user is None or actor.user.id != user.id):
        raise PermissionDenied("Agents choose their own notifications.")
    if not user.is_staff:
        raise ValidationError("Only agents get these notifications.", {"user": "Not an agent."})
    if event not in AGENT_EVENTS:
        raise ValidationError(
            "There is no notification “%(event)s”.", {"event": "Unknown."}, event=event
        )
    row = db.session.get(AgentNotificationOptOut, (user.id, event))
    if enabled and row is not None:
        db.session.delete(row)
    elif not enabled and row is None:
        db.session.add(AgentNotificationOptOut(user_id=user.id, event=event))
    db.session.flush()


def _agents_wanting(users, event: str, skip_user_id: int | None = None) -> list[User]:
    chosen = [u for u in users if u.active and u.is_staff and u.id != skip_user_id]
    if not chosen:
        return []
    off = set(
        db.session.execute(
            select(AgentNotificationOptOut.user_id).where(
                AgentNotificationOptOut.event == event,
                AgentNotificationOptOut.user_id.in_([u.id for u in chosen]),
            )
        ).scalars()
    )
    return [u for u in chosen if u.id not in off]


# --- who, in which language, may we ------------------------------------------------------------


def _default_locale() -> str:
    return supported_locale(current_app.config.get("BABEL_DEFAULT_LOCALE")) or DEFAULT_LOCALE


def _locale_of(user: User | None) -> str:
    return supported_locale(user.locale if user is not None else None) or _default_locale()


def _answers_automatic_mail(message: Message | None) -> bool:
    """Whether the mail a message came in as was sent by a machine (RFC 3834 and kin)."""
    if message is None:
        return False
    if message.automatic:  # marked so when the mail came in
        return True
    if not message.raw_sha256:
        return False
    try:
        parsed = parse_message(storage.read_blob(message.raw_sha256))
    except (OSError, ValueError):
        return False
    return not classify(parsed).may_acknowledge


def _opening_message(ticket: Ticket) -> Message | None:
    """The message that opened the ticket: if a machine wrote it, its requester is a machine
    (an out-of-office on a later reply does not make the customer one)."""
    return next((m for m in ticket.messages if m.kind == MessageKind.REPLY), None)


def _may_notify_customer(ticket: Ticket | None, address: str | None, trigger: Message | None):
    """The loop rules (helpdesk.mail.loops) for an automatic mail to a customer."""
    config = current_app.config
    since = utcnow() - timedelta(hours=1)
    return loops.may_send_automatic(
        address,
        own_addresses=outbound.support_addresses(),
        separator=compose.separator(),
        bouncing=bool(address) and delivery.is_bouncing(address),
        answers_automatic_mail=_answers_automatic_mail(trigger),
        sent_to_recipient=delivery.automatic_sent_since(since, address=loops.normalize(address))
        if address
        else 0,
        sent_for_ticket=delivery.automatic_sent_since(since, ticket_id=ticket.id) if ticket else 0,
        limits=loops.Limits(
            per_recipient=config["HELPDESK_AUTO_MAIL_PER_RECIPIENT_HOUR"],
            per_ticket=config["HELPDESK_AUTO_MAIL_PER_TICKET_HOUR"],
        ),
    )


def _each(results: list[str]) -> str:
    return "; ".join(results) if results else "nobody to tell"


# --- customers ---------------------------------------------------------------------------------


def _customer_locale(contact: Contact) -> str:
    return _locale_of(contact.user if contact is not None else None)


@handler(ACKNOWLEDGE)
def acknowledge(payload: dict) -> str:
    """Tell the requester their request was accepted, with its number and link."""
    ticket = db.session.get(Ticket, payload["ticket_id"])
    if ticket is None:
        return "ticket gone"
    if not _notice_on("acknowledge"):
        return "acknowledgements are off"
    if ticket.channel not in ACKNOWLEDGED_CHANNELS:
        return f"not acknowledged: entered by {ticket.channel}"
    address = ticket.requester.primary_email
    trigger = db.session.get(Message, payload.get("message_id") or 0)
    decision = _may_notify_customer(ticket, address, trigger)
    if not decision:
        return f"not sent: {decision.reason}"
    return compose.send_new(
        "acknowledge",
        ticket,
        to=address,
        locale=_customer_locale(ticket.requester),
        automatic=True,
    )


@handler(REPLY)
def send_reply(payload: dict) -> str:
    """Mail an agent's public reply to the requester, with the Cc'd participants."""
    message = db.session.get(Message, payload["message_id"])
    if message is None or message.kind != MessageKind.REPLY:
        return "not a public reply"
    if message.author_user is None or not message.author_user.is_staff:
        return "not an agent's reply"
    if message.delivery != Delivery.NONE:
        return f"already {message.delivery}"
    ticket = message.ticket
    requester = ticket.requester.primary_email
    others = [p.contact.primary_email for p in ticket.participants if p.contact is not None]
    recipients = loops.reply_recipients(
        [requester, *others], outbound.support_addresses(), compose.separator()
    )
    if not recipients:
        message.delivery_error = "Nobody on this ticket has an e-mail address to send it to."
        return "no address to send the reply to"
    return compose.send_new(
        "reply",
        ticket,
        to=recipients[0],
        cc=recipients[1:],
        locale=_customer_locale(ticket.requester),
        automatic=False,
        message=message,
        status=str(ticket.status),
    )


@handler(ASSIGNED)
def tell_customer_assigned(payload: dict) -> str:
    """Tell the requester who is handling their request."""
    ticket = db.session.get(Ticket, payload["ticket_id"])
    if ticket is None or not payload.get("assignee_id"):
        return "ticket gone or unassigned"
    if not _notice_on("assigned"):
        return "assignment notices are off"
    if ticket.assignee_id != payload["assignee_id"] or ticket.status not in (
        Status.NEW,
        Status.OPEN,
        Status.PENDING,
    ):
        return "no longer current"
    address = ticket.requester.primary_email
    decision = _may_notify_customer(ticket, address, _opening_message(ticket))
    if not decision:
        return f"not sent: {decision.reason}"
    return compose.send_new(
        "assigned",
        ticket,
        to=address,
        locale=_customer_locale(ticket.requester),
        automatic=True,
        agent_id=payload["assignee_id"],
    )


def _status_audit(ticket: Ticket, new: str) -> AuditEvent | None:
    return db.session.execute(
        select(AuditEvent)
        .where(
            AuditEvent.ticket_id == ticket.id,
            AuditEvent.action == "status",
            AuditEvent.new_value == new,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _by_customer(audit: AuditEvent | None) -> bool:
    if audit is None or audit.actor_user_id is None:
        return audit is not None and audit.actor_contact_id is not None
    user = db.session.get(User, audit.actor_user_id)
    return user is not None and not user.is_staff


def _told_by_reply(ticket: Ticket, audit: AuditEvent | None, new: str) -> bool:
    """Whether the same agent's reply, moments before, carries the news (its mail says it)."""
    if audit is None or audit.actor_user_id is None:
        return False
    reply = db.session.execute(
        select(Message)
        .where(
            Message.ticket_id == ticket.id,
            Message.kind == MessageKind.REPLY,
            Message.author_user_id == audit.actor_user_id,
            Message.created_at >= audit.created_at - WITH_REPLY,
            Message.created_at <= audit.created_at,
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if reply is None:
        return False
    if reply.delivery == Delivery.NONE:
        return True  # its mail is not written yet: it will read the new status
    mail = db.session.execute(
        select(SentMail).where(SentMail.message_id == reply.id).order_by(SentMail.id).limit(1)
    ).scalar_one_or_none()
    return mail is not None and mail.values.get("status") == new


@handler(STATUS)
def tell_customer_status(payload: dict) -> str:
    """Tell the requester their ticket waits on them, is resolved, or is closed."""
    new = payload.get("new")
    if new not in (Status.PENDING, Status.RESOLVED, Status.CLOSED):
        return f"no notice for {new}"
    ticket = db.session.get(Ticket, payload["ticket_id"])
    if ticket is None:
        return "ticket gone"
    if not _notice_on(new):
        return f"{new} notices are off"
    if ticket.merged_into_id is not None or any(t.name == "spam" for t in ticket.tags):
        return "merged or spam: no notice"
    audit = _status_audit(ticket, new)
    if _by_customer(audit):
        return "the customer did it: no notice"
    if _told_by_reply(ticket, audit, new):
        return "told by the agent's reply"
    address = ticket.requester.primary_email
    decision = _may_notify_customer(ticket, address, _opening_message(ticket))
    if not decision:
        return f"not sent: {decision.reason}"
    return compose.send_new(
        new,
        ticket,
        to=address,
        locale=_customer_locale(ticket.requester),
        automatic=True,
        status=new,
    )


@handler(TOO_LARGE_NOTICE)
def tell_sender_too_large(payload: dict) -> str:
    """Tell the sender that their mail was too large to take in (it is kept in quarantine)."""
    address = loops.normalize(payload.get("to"))
    # The inbound side queues this only for mail that may be answered (not automatic mail).
    decision = _may_notify_customer(None, address, None)
    if not decision:
        return f"not sent: {decision.reason}"
    return compose.send_new(
        "too_large",
        None,
        to=address,
        locale=_default_locale(),
        automatic=True,
        inbound_id=payload.get("inbound_id"),
        subject=payload.get("subject") or "",
        size=payload.get("size") or 0,
        limit=payload.get("limit") or 0,
    )


# --- agents ------------------------------------------------------------------------------------


def _notify_agents(kind: str, event: str, ticket: Ticket, users, skip=None, **values) -> str:
    own = outbound.support_addresses()
    results = []
    for user in _agents_wanting(users, event, skip):
        if loops.is_own_address(user.email, own) or loops.is_mail_system(user.email):
            continue
        results.append(
            compose.send_new(
                kind, ticket, to=user.email, locale=_locale_of(user), automatic=True, user=user,
                **values,
            )
        )  # fmt: skip
    return _each(results)


def _audit_actor(ticket: Ticket, action: str) -> int | None:
    return db.session.execute(
        select(AuditEvent.actor_user_id)
        .where(AuditEvent.ticket_id == ticket.id, AuditEvent.action == action)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()


@handler(AGENTS_NEW_TICKET)
def tell_agents_new_ticket(payload: dict) -> str:
    """Tell the members of the ticket's team that a new ticket came in."""
    ticket = db.session.get(Ticket, payload["ticket_id"])
    if ticket is None:
        return "ticket gone"
    if ticket.team is None:
        return "no team: nobody's new ticket yet"
    creator = _audit_actor(ticket, "created")
    return _notify_agents(
        "agent_new_ticket", "new_ticket", ticket, list(ticket.team.members), creator,
        message_id=payload.get("message_id"),
    )  # fmt: skip


@handler(AGENT_ASSIGNED)
def tell_agent_assigned(payload: dict) -> str:
    """Tell an agent a ticket was given to them (not when they took it themselves)."""
    ticket = db.session.get(Ticket, payload["ticket_id"])
    user = db.session.get(User, payload.get("assignee_id") or 0)
    if ticket is None or user is None or ticket.assignee_id != user.id:
        return "ticket gone or assigned elsewhere"
    by = _audit_actor(ticket, "assignee")
    return _notify_agents("agent_assigned", "assigned", ticket, [user], by, actor_id=by)


@handler(AGENT_CUSTOMER_REPLY)
def tell_agent_customer_reply(payload: dict) -> str:
    """Tell the assignee that the customer answered."""
    message = db.session.get(Message, payload["message_id"])
    if message is None or message.kind != MessageKind.REPLY or message.author_contact is None:
        return "not a customer's reply"
    if message.author_user is not None and message.author_user.is_staff:
        return "not a customer's reply"
    ticket = message.ticket
    if ticket.assignee is None:
        return "nobody is assigned"
    if _answers_automatic_mail(message):
        return "an automatic mail: the assignee is not disturbed"
    return _notify_agents(
        "agent_customer_reply", "customer_reply", ticket, [ticket.assignee],
        message_id=message.id,
    )  # fmt: skip


@handler(AGENT_MENTION)
def tell_agent_mentioned(payload: dict) -> str:
    """Tell the agents a note @mentions."""
    ticket = db.session.get(Ticket, payload["ticket_id"])
    message = db.session.get(Message, payload.get("message_id") or 0)
    if ticket is None or message is None:
        return "ticket or note gone"
    ids = list(payload.get("user_ids") or []) + (
        [payload["user_id"]] if "user_id" in payload else []
    )
    users = db.session.execute(select(User).where(User.id.in_(ids))).scalars().all()
    return _notify_agents(
        "agent_mention", "mention", ticket, users, message.author_user_id,
        message_id=message.id, actor_id=message.author_user_id,
    )  # fmt: skip
