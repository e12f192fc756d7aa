"""Turning a SentMail row into the mail it stands for, and sending it: the values its
template gets, its identity and threading, its files (helpdesk.mail.outbound builds the bytes,
helpdesk.mail.delivery talks SMTP and records the outcome).

A mail is rendered when it is sent, in the language chosen when it was decided on; its
Message-ID is chosen once, so a retry goes out as the same mail.
"""

import json
import logging
import smtplib
from email.utils import make_msgid

from flask import current_app, url_for
from markupsafe import Markup, escape

from helpdesk import settings, storage
from helpdesk.accounts.models import User
from helpdesk.crypto import SecretUnreadable
from helpdesk.extensions import db
from helpdesk.mail import delivery, loops, outbound
from helpdesk.mail.delivery import MailStatus, SentMail
from helpdesk.mail.mailboxes import Mailbox
from helpdesk.mail.models import InboundMail
from helpdesk.mail.poller import PollError, forget_token
from helpdesk.mail.templates_store import render_mail
from helpdesk.outbox.runner import handler
from helpdesk.settings import business_name
from helpdesk.tickets.links import make_link_token, ticket_link_url
from helpdesk.tickets.models import Message, Ticket
from helpdesk.tickets.states import Status

log = logging.getLogger(__name__)


def separator() -> str:
    """The plus-addressing separator of our Reply-To addresses (a business setting)."""
    return settings.get_setting("reply_to_separator")


def _person(name: str | None, address: str | None = None) -> dict:
    return {"name": name or address or "", "email": address or ""}


def _message_values(message: Message | None) -> dict | None:
    if message is None:
        return None
    if message.body_html:
        html = Markup(message.body_html)  # noqa: S704  (sanitized when it was stored)
    else:
        html = Markup("<br>\n").join(escape(line) for line in message.body_text.splitlines())
    return {
        "author": message.author_name,
        "text": message.body_text,
        "html": html,
        "attachments": [a.filename for a in message.attachments],
    }


def _not_solved_link(ticket: Ticket, locale: str) -> str:
    base = current_app.config["HELPDESK_BASE_URL"]
    with current_app.test_request_context(base_url=base):
        token = make_link_token(ticket)
        return url_for("mail_links.not_solved", token=token, lang=locale, _external=True)


def _context(row: SentMail) -> dict:
    """The plain values a template of `row.kind` renders (see templates_store.sample_context)."""
    ticket, values = row.ticket, row.values
    for_agent = row.user_id is not None
    base = current_app.config["HELPDESK_BASE_URL"]
    link = f"{base}/agent/tickets/{ticket.number}" if for_agent else ticket_link_url(ticket)
    if for_agent:
        recipient = _person(row.user.name, row.to_address)
    else:
        recipient = _person(ticket.requester.name, row.to_address)
    agent = db.session.get(User, values["agent_id"]) if values.get("agent_id") else None
    actor = db.session.get(User, values["actor_id"]) if values.get("actor_id") else None
    message = row.message
    if message is None and values.get("message_id"):
        message = db.session.get(Message, values["message_id"])
    status = values.get("status") or str(ticket.status)
    return {
        "helpdesk_name": business_name(),
        "recipient": recipient,
        "ticket": {
            "number": ticket.number,
            "reference": ticket.reference,
            "subject": ticket.subject,
            "status": status,
            "link": link,
            "requester": _person(ticket.requester.name, ticket.requester.primary_email),
            "team": ticket.team.name if ticket.team else None,
            "follow_up_of": ticket.follow_up_of.number if ticket.follow_up_of else None,
        },
        "agent": _person(agent.name) if agent else None,
        "actor": _person(actor.name) if actor else None,
        "message": _message_values(message),
        "not_solved_link": _not_solved_link(ticket, row.locale)
        if status == Status.RESOLVED and not for_agent
        else None,
        "reopen_days": settings.get_setting("reopen_days"),
    }


def _attachments(row: SentMail) -> list[tuple[str, str, bytes, str | None]]:
    if row.kind != "reply" or row.message is None:
        return []
    return [
        (
            a.filename,
            a.content_type,
            storage.read_blob(a.sha256),
            a.content_id if a.inline else None,
        )
        for a in row.message.attachments
    ]


def compose(row: SentMail) -> tuple[outbound.OutgoingMail, outbound.Identity]:
    """The mail a SentMail row stands for, rendered now in the recipient's language."""
    ticket = row.ticket
    if ticket is None:
        return _compose_without_ticket(row)
    sep = separator()
    identity = outbound.identity_for(ticket, sep)
    rendered = render_mail(row.kind, row.locale, _context(row))
    in_reply_to, references = outbound.thread_ids(ticket, exclude_message_id=row.message_id)
    name = business_name()
    for_customer = row.user_id is None
    if row.kind == "reply" and row.message is not None and row.message.author_user is not None:
        name = f"{row.message.author_user.name} ({name})"
    headers = {}
    if row.automatic:
        headers = loops.AUTO_REPLY_HEADERS if for_customer else loops.AUTO_GENERATED_HEADERS
    reply_to = None
    if for_customer:
        plus = settings.get_setting("reply_to_plus")
        reply_to = outbound.reply_to_for(ticket, identity.address, plus, sep)
    mail = outbound.OutgoingMail(
        sender=identity.address,
        sender_name=name,
        to=[row.to_address],
        cc=row.cc,
        subject=outbound.tagged_subject(rendered.subject, ticket.number),
        text=rendered.text,
        html=rendered.html,
        message_id=row.mail_message_id,
        reply_to=reply_to,
        in_reply_to=in_reply_to,
        references=references,
        headers=dict(headers),
        attachments=_attachments(row),
    )
    return mail, identity


def _compose_without_ticket(row: SentMail) -> tuple[outbound.OutgoingMail, outbound.Identity]:
    """A notice to the sender of a mail that made no ticket (it was too large), from the
    mailbox it came to, in answer to it."""
    values = row.values
    inbound = db.session.get(InboundMail, values.get("inbound_id") or 0)
    mailbox = (
        db.session.get(Mailbox, inbound.mailbox_id) if inbound and inbound.mailbox_id else None
    )
    if mailbox is not None and mailbox.address:
        identity = outbound.Identity(loops.normalize(mailbox.address), mailbox)
    else:
        identity = outbound.identity_for(None)
    name = business_name()
    context = {
        "helpdesk_name": name,
        "recipient": _person(None, row.to_address),
        "mail": {
            "subject": values.get("subject") or "",
            "size_mb": f"{values.get('size', 0) / 1048576:.3g}",
            "limit_mb": f"{values.get('limit', 0) / 1048576:.3g}",
        },
    }
    rendered = render_mail(row.kind, row.locale, context)
    original = inbound.mail_message_id if inbound is not None else ""
    original = original if original.startswith("<") else None  # not "sha256:…"
    mail = outbound.OutgoingMail(
        sender=identity.address,
        sender_name=name,
        to=[row.to_address],
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=row.mail_message_id,
        in_reply_to=original,
        references=[original] if original else [],
        headers=dict(loops.AUTO_REPLY_HEADERS),
    )
    return mail, identity


class TemporaryFailure(Exception):
    """The server is away or said "later" (4xx): the outbox retries with back-off."""


def transmit_row(row: SentMail) -> str:
    """Send the row's mail now and record the outcome; TemporaryFailure when it may work later."""
    mail, identity = compose(row)
    try:
        smtp = delivery.mailbox_settings(identity.mailbox) or delivery.global_settings()
    except (PollError, SecretUnreadable) as exc:  # the mailbox cannot sign in right now
        raise TemporaryFailure(f"cannot sign in to the mailbox's mail server: {exc}") from exc
    if smtp is None:
        log.info("mail %s to %s not sent: no MAIL_SERVER configured", row.kind, row.to_address)
        delivery.mark_failed(row, "No mail server is configured (MAIL_SERVER).", final=True)
        return "not sent: no MAIL_SERVER"
    data = outbound.build_message(mail).as_bytes()
    try:
        refused = delivery.transmit(smtp, identity.address, mail.to + mail.cc, data)
    except delivery.PermanentFailure as exc:
        if isinstance(exc, delivery.SignInRefused) and identity.mailbox is not None:
            forget_token(identity.mailbox.id)  # the next try asks the provider for a new one
        delivery.mark_failed(row, str(exc)[:1000], final=True)
        return f"refused: {exc}"
    except (smtplib.SMTPException, OSError) as exc:
        raise TemporaryFailure(delivery.describe_error(exc)) from exc
    delivery.mark_sent(row, refused)
    return f"sent {row.kind} to {row.to_address}"


def send_new(
    kind: str,
    ticket: Ticket | None,
    *,
    to: str,
    locale: str,
    automatic: bool,
    cc: list[str] | None = None,
    message: Message | None = None,
    user: User | None = None,
    **values,
) -> str:
    """Record a new mail and try it at once; if the server cannot take it now, schedule it."""
    identity = outbound.identity_for(ticket, separator())
    row = delivery.new_row(
        kind=kind,
        ticket=ticket,
        message=message,
        user=user,
        to_address=loops.normalize(to),
        cc_addresses=",".join(cc) if cc else None,
        locale=locale,
        automatic=automatic,
        context=json.dumps(values, sort_keys=True),
        mail_message_id=outbound.new_message_id(ticket, identity.address)
        if ticket is not None
        else make_msgid(domain=outbound.message_id_host(identity.address)),
    )
    if message is not None and not message.mail_message_id:
        message.mail_message_id = row.mail_message_id  # so replies to it thread by it
    try:
        return transmit_row(row)
    except TemporaryFailure as exc:
        delivery.mark_failed(row, str(exc), final=False)
        delivery.schedule_retry(row)
        return f"{kind} to {row.to_address} will be retried: {exc}"


@handler(delivery.DELIVER)
def deliver_queued(payload: dict) -> str:
    """Send a mail the server could not take before (retried with the outbox's back-off)."""
    row = db.session.get(SentMail, payload["sent_mail_id"])
    if row is None:
        return "mail gone"
    if row.status != MailStatus.QUEUED:
        return f"already {row.status}"  # sent by an earlier attempt: never twice
    try:
        return transmit_row(row)
    except TemporaryFailure as exc:
        final = delivery.is_final_attempt(row)
        delivery.mark_failed(row, str(exc), final=final)
        db.session.commit()  # the reason stays visible whatever the outbox does next
        raise
