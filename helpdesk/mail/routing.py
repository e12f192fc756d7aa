"""Acting on one parsed mail: a new ticket, a reply, an automatic message, a bounce, or
only a record (spam, blocked, our own mail, a report). Fills the InboundMail row with the
outcome and the reason; the caller (helpdesk.mail.ingest) owns the transaction.
"""

import logging
import re
from collections.abc import Container, Sequence
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased

from helpdesk import outbox
from helpdesk.accounts.actor import Actor
from helpdesk.contacts.models import Contact, ContactEmail
from helpdesk.contacts.services import find_or_create_contact
from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.mail.autodetect import Classification, MailKind, classify
from helpdesk.mail.mailboxes import Mailbox
from helpdesk.mail.models import InboundMail, Outcome
from helpdesk.mail.parse import ParsedMail
from helpdesk.mail.threading import Decision, decide, decide_bounce
from helpdesk.mail.tokens import find_tokens
from helpdesk.notifications import ACKNOWLEDGE
from helpdesk.tickets import blocklist
from helpdesk.tickets.models import Channel, Message, Participant, Ticket
from helpdesk.tickets.services import (
    MailHeaders,
    add_automatic_message,
    add_mail_attachments,
    add_mail_participant,
    add_reply,
    once_flushed,
    open_ticket,
)
from helpdesk.validation import BODY_MAX, SUBJECT_MAX, Upload

log = logging.getLogger(__name__)

MAX_CC_PARTICIPANTS = 20
MAX_REFERENCES = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def apply_mail(
    row: InboundMail,
    mail: ParsedMail,
    support_addresses: Sequence[str],
    release: bool = False,
    *,
    ours: set[str] | None = None,
    blocked: Container[str] | None = None,
    classification: Classification | None = None,
    lookup: "DatabaseLookup | None" = None,
) -> None:
    """Decide what the mail is and act on it; fills the row's outcome, ticket and reasons.
    `ours` is our_addresses(support_addresses), `blocked` the blocked senders among the
    mails at hand (blocklist.blocked_among), `classification` classify(mail) and `lookup`
    a BatchLookup, when the caller has them already."""
    row.sender = (mail.from_address or "")[:254] or None
    row.subject = mail.subject[:250] or None
    secret = current_app.config["SECRET_KEY"]
    ours = our_addresses(support_addresses) if ours is None else ours
    classification = classification or classify(mail)
    own = _own_mail_reason(mail, ours, secret)
    if own:
        row.outcome, row.detail = Outcome.OWN_MAIL_LOOP, f"our own mail came back ({own}): dropped"
        return
    if not release and _is_blocked(mail.from_address, blocked):
        row.outcome, row.detail = Outcome.BLOCKED, f"{mail.from_address} is blocked: held as spam"
        return
    if not release and classification.spam:
        row.outcome, row.detail = Outcome.SPAM, f"marked as spam ({classification.spam_reason})"
        return
    kind = classification.kind
    lookup = lookup or DatabaseLookup()
    queued = outbox.mark()  # side effects of earlier mails
    if kind is MailKind.BOUNCE:
        _apply_bounce(row, mail, classification, lookup, secret)
        return
    if kind is MailKind.ABUSE_REPORT:
        row.outcome = Outcome.ABUSE_REPORT
        row.detail = "; ".join(classification.reasons) + ": recorded"
        return
    decision = decide(mail, lookup, secret)
    row.rule, row.explanation = decision.rule, decision.explanation
    if classification.automatic and decision.ticket_number is not None:
        _attach_automatic(row, mail, classification, decision)
    elif kind in (MailKind.AUTO_REPLY, MailKind.RECEIPT):
        row.outcome = Outcome.RECEIPT if kind is MailKind.RECEIPT else Outcome.AUTO_REPLY
        row.detail = "; ".join(classification.reasons) + ": no ticket to attach it to, recorded"
    elif decision.ticket_number is not None:
        _apply_reply(row, mail, classification, decision, queued)
    else:
        _apply_new_ticket(row, mail, classification, ours, queued)


def _apply_bounce(row, mail, classification: Classification, lookup, secret: str) -> None:
    bounce = classification.bounce
    original = bounce.original_message_id if bounce else None
    failed = bounce.failed_addresses if bounce else []
    decision = decide_bounce(original, lookup, secret, report=mail)
    row.outcome, row.rule, row.explanation = Outcome.BOUNCE, decision.rule, decision.explanation
    whom = ", ".join(failed[:5]) or "unknown recipients"
    if decision.ticket_number is None:
        row.detail = f"for {whom}, of no mail we sent: recorded for admins"
        log.info("a bounce for %s matched no mail of ours: %s", whom, decision.explanation)
        return
    ticket = _ticket(decision.ticket_number)
    # Only a bounce of a mail we really sent may mark addresses: anyone can write a report.
    marked = _mark_bouncing(failed)
    recipients = bounce.recipients[:20] if bounce else []
    lines = [f"Delivery failed for {r.address}: {r.status} {r.diagnostic}" for r in recipients]
    body = "\n".join(lines or ["A delivery report came back."]) + "\n\n" + mail.text
    message = add_automatic_message(
        ticket,
        author=None,
        body=_fit_body(body),
        internal=True,
        mail=_headers(mail, row),
        mail_html=mail.html,
    )
    _finish_message(message, mail)
    row.ticket, row.message = message.ticket, message
    row.detail = f"for {whom}, attached for agents"
    if marked:
        row.detail += f"; marked as failing: {', '.join(marked[:5])}"


def _mark_bouncing(addresses: list[str]) -> list[str]:
    if not addresses:
        return []
    entries = db.session.execute(
        select(ContactEmail).where(ContactEmail.email.in_(addresses))
    ).scalars()
    marked = []
    for entry in entries:
        entry.bouncing = True
        marked.append(entry.email)
    return marked


def _attach_automatic(row, mail: ParsedMail, classification: Classification, decision: Decision):
    ticket = _ticket(decision.ticket_number)
    author = _sender_contact(mail) if mail.from_address else None
    message = add_automatic_message(
        ticket,
        author=author,
        body=_fit_body(_reply_text(mail)),
        mail=_headers(mail, row),
        mail_html=mail.html,
    )
    _finish_message(message, mail)
    receipt = classification.kind is MailKind.RECEIPT
    row.outcome = Outcome.RECEIPT if receipt else Outcome.AUTO_REPLY
    row.ticket, row.message = message.ticket, message
    what = "; ".join(classification.reasons)
    row.detail = f"{what}: attached, the status left as it was"


def _apply_reply(
    row, mail: ParsedMail, classification: Classification, decision: Decision, queued: int
):
    ticket = _ticket(decision.ticket_number)
    author = _sender_contact(mail)
    joined = decision.new_participant and add_mail_participant(ticket, author)
    message = add_reply(
        ticket,
        Actor.for_contact(author),
        body=_fit_body(_reply_text(mail)),
        channel=Channel.EMAIL,
        mail=_headers(mail, row),
        mail_html=mail.html,
        from_new_participant=bool(decision.new_participant),
    )
    _finish_message(message, mail)
    row.ticket, row.message = message.ticket, message
    number = message.ticket.number
    if message.ticket is not ticket:  # a new ticket (maybe without its id yet)
        row.outcome = Outcome.NEW_TICKET
        row.explanation += (
            f" #{ticket.number} is closed, so the mail opened #{number}, linked to it."
        )
        row.detail = f"from {_who(author)}, a follow-up to the closed #{ticket.number}"
        quiet = _why_not_acknowledged(classification, author)
        if quiet:
            _withdraw_acknowledgement(queued)
            row.detail += f"; not acknowledged ({quiet})"
    else:
        row.outcome = Outcome.REPLY
        row.detail = f"from {_who(author)}, matched by {decision.rule}"
    if joined:
        row.detail += "; a new participant"


def _apply_new_ticket(
    row, mail: ParsedMail, classification: Classification, ours, queued: int
) -> None:
    # Flushed with the new ticket (nothing needs its id before).
    requester = _sender_contact(mail, flush=False)
    subject = _clean_line(mail.subject)[:SUBJECT_MAX].strip() or "(no subject)"
    ticket = open_ticket(
        Actor.for_contact(requester),
        requester=requester,
        subject=subject,
        body=_fit_body(mail.text),
        channel=Channel.EMAIL,
        mail=_headers(mail, row),
        mail_html=mail.html,
        cc=_cc_contacts(mail, ours, requester),
    )
    message = ticket.messages[0]
    message.automatic = classification.automatic
    _finish_message(message, mail)
    row.outcome = Outcome.NEW_TICKET
    row.ticket, row.message = ticket, message
    row.detail = f"from {_who(requester)}"
    quiet = _why_not_acknowledged(classification, requester)
    if quiet:
        _withdraw_acknowledgement(queued)
        row.detail += f"; not acknowledged ({quiet})"


def _why_not_acknowledged(classification: Classification, requester: Contact) -> str | None:
    if classification.automatic:
        return "; ".join(classification.reasons)
    if classification.suppress_auto_reply:
        return "the sender asked for no automatic replies"
    if requester.primary_email is None:
        return "no sender address"
    # Rate limits against robots that hide what they are belong to the sending side
    # (helpdesk.mail.loops), which sees every automatic mail, not only acknowledgements.
    return None


def _withdraw_acknowledgement(queued: int) -> None:
    """Drop the acknowledgement open_ticket queued for this mail (not yet sent); the first
    `queued` items are earlier mails' of the same batch, whose acknowledgements stand. (Once
    the ticket's events are published: inside one_flush(), at the caller's flush.)"""
    once_flushed(lambda: outbox.withdraw(ACKNOWLEDGE, queued))


def _is_blocked(address: str | None, blocked: Container[str] | None) -> bool:
    if blocked is None:
        return blocklist.is_blocked(address)
    return address in blocked


# ---- pieces --------------------------------------------------------------------------------


def _who(contact: Contact) -> str:
    return contact.primary_email or "a sender without an address"


def _ticket(number: int) -> Ticket:
    return db.session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()


def _sender_contact(mail: ParsedMail, flush: bool = True) -> Contact:
    """The contact who owns the From address; one without an address when it is unusable.
    flush=False: a new one is left to the caller's next flush."""
    name = _clean_line(mail.from_name)[:200].strip() or None
    if mail.from_address:
        for display in (name, None):
            try:
                return find_or_create_contact(mail.from_address, display, flush=flush)
            except ValidationError:
                continue
    contact = Contact(name=(name or mail.from_address or "Unknown sender")[:200], user=None)
    db.session.add(contact)
    db.session.flush()
    return contact


def _cc_contacts(mail: ParsedMail, ours: set[str], requester: Contact) -> list[Contact]:
    secret = current_app.config["SECRET_KEY"]
    contacts: dict[int, Contact] = {}
    for name, address in mail.cc:
        if len(contacts) >= MAX_CC_PARTICIPANTS:
            break
        if _is_ours(address, ours) or address == mail.from_address or find_tokens(address, secret):
            continue
        display = _clean_line(name)[:200].strip() or None
        try:
            contact = find_or_create_contact(address, display)
        except ValidationError:
            try:
                contact = find_or_create_contact(address)
            except ValidationError:
                continue  # not an address we could ever write to
        if contact.id != requester.id:
            contacts[contact.id] = contact
    return list(contacts.values())


def _finish_message(message: Message, mail: ParsedMail) -> None:
    """The mail's files on the message. (Its HTML came with the message, as `mail_html`:
    sanitized by the mail parser, which keeps cid: images and blocks remote content; the
    generic sanitizer would drop both.)"""
    uploads = [
        Upload(
            filename=attachment.filename,
            content_type=attachment.content_type,
            data=attachment.data,
            inline=attachment.inline,
            content_id=(attachment.content_id or "")[:255] or None,
        )
        for attachment in mail.attachments
    ]
    if uploads:
        add_mail_attachments(message, uploads)


def _headers(mail: ParsedMail, row: InboundMail) -> MailHeaders:
    references = " ".join(mail.references[-MAX_REFERENCES:]) or None
    return MailHeaders(
        message_id=(mail.message_id or "")[:998] or None,
        in_reply_to=(mail.in_reply_to or "")[:998] or None,
        references=references,
        raw_sha256=row.raw_sha256,
    )


def _reply_text(mail: ParsedMail) -> str:
    return mail.reply_text.strip() or mail.text


def _fit_body(text: str) -> str:
    text = (text or "").strip()
    if not text:
        return "(no text)"
    if len(text) > BODY_MAX - 200:
        return text[: BODY_MAX - 200] + "\n\n[Shortened here: the original mail has the rest.]"
    return text


def _clean_line(value: str | None) -> str:
    return " ".join(_CONTROL.sub(" ", value or "").split())


def our_addresses(extra: Sequence[str]) -> set[str]:
    """Every address of ours: the support address, the sender address, each mailbox's."""
    config = current_app.config
    candidates = [config.get("HELPDESK_SUPPORT_ADDRESS"), config.get("MAIL_DEFAULT_SENDER")]
    candidates += list(extra)
    candidates += db.session.execute(select(Mailbox.address)).scalars().all()
    found = set()
    for value in candidates:
        address = parseaddr(value or "")[1].strip().lower()
        if "@" in address:
            found.add(address)
    return found


def _is_ours(address: str, ours: set[str]) -> bool:
    """One of our addresses, also plus-addressed (`support+anything@…`)."""
    local, _, domain = address.rpartition("@")
    return address in ours or f"{local.split('+')[0]}@{domain}" in ours


def _own_mail_reason(mail: ParsedMail, ours: set[str], secret: str) -> str | None:
    sender = mail.from_address or ""
    if sender and (_is_ours(sender, ours) or find_tokens(sender, secret)):
        return f"sent from our address {sender}"
    if mail.message_id and find_tokens(mail.message_id, secret):
        return f"its Message-ID {mail.message_id} is one of ours"
    loop = mail.headers.get("x-loop", "").lower()
    if loop and any(address in loop for address in ours):
        return f"X-Loop: {loop[:100]}"
    return None


# One alias for every look-up, so that its statement is compiled once (a new alias each time
# would make a new statement each time).
_MERGE_TARGET = aliased(Ticket, name="merge_target")


class DatabaseLookup:
    """The threading module's questions, answered from the database."""

    def existing_tickets(self, numbers: Sequence[int]) -> set[int]:
        if not numbers:
            return set()
        rows = db.session.execute(select(Ticket.number).where(Ticket.number.in_(list(numbers))))
        return set(rows.scalars())

    def tickets_by_message_id(self, message_ids: Sequence[str]) -> dict[str, int]:
        wanted = [m for m in message_ids if m and len(m) <= 998][:MAX_REFERENCES]
        if not wanted:
            return {}
        rows = db.session.execute(
            select(Message.mail_message_id, Ticket.number)
            .join(Ticket, Message.ticket_id == Ticket.id)
            .where(Message.mail_message_id.in_(wanted))
            .order_by(Message.id)
        )
        return {message_id: number for message_id, number in rows}

    def is_participant(self, number: int, address: str) -> bool:
        contact_id = db.session.execute(
            select(ContactEmail.contact_id).where(ContactEmail.email == address.lower())
        ).scalar_one_or_none()
        if contact_id is None:
            return False
        ticket = db.session.execute(
            select(Ticket.id, Ticket.requester_id).where(Ticket.number == number)
        ).first()
        if ticket is None:
            return False
        if ticket.requester_id == contact_id:
            return True
        return (
            db.session.execute(
                select(Participant.contact_id).where(
                    Participant.ticket_id == ticket.id, Participant.contact_id == contact_id
                )
            ).first()
            is not None
        )

    def merged_into(self, number: int) -> int | None:
        target = _MERGE_TARGET
        return db.session.execute(
            select(target.number)
            .join(Ticket, Ticket.merged_into_id == target.id)
            .where(Ticket.number == number)
        ).scalar_one_or_none()


class BatchLookup(DatabaseLookup):
    """DatabaseLookup for a batch of mails: the tickets of the Message-IDs they name are
    looked up once, here. A Message-ID that a mail of the batch itself carries is looked up
    when asked: that mail may have been recorded (or undone) since."""

    def __init__(self, mails: Sequence[ParsedMail]):
        own = {m for mail in mails if (m := mail.message_id)} | {
            m[:998] for mail in mails if (m := mail.message_id)
        }  # (as the batch will store them, too: shortened)
        self.named = {m for mail in mails for m in _threading_ids(mail) if m not in own}
        self.known: dict[str, int] = {}
        ordered = sorted(self.named)
        for start in range(0, len(ordered), MAX_REFERENCES):
            chunk = ordered[start : start + MAX_REFERENCES]
            self.known.update(super().tickets_by_message_id(chunk))

    def tickets_by_message_id(self, message_ids: Sequence[str]) -> dict[str, int]:
        asked = [m for m in message_ids if m and len(m) <= 998][:MAX_REFERENCES]
        unsure = [m for m in asked if m not in self.named]
        found = super().tickets_by_message_id(unsure) if unsure else {}
        return {m: found.get(m, self.known.get(m)) for m in asked if m in found or m in self.known}


def _threading_ids(mail: ParsedMail) -> list[str]:
    """The Message-IDs threading may look up for this mail: In-Reply-To and the latest
    References (threading asks for at most MAX_REFERENCES of the chain, newest first)."""
    chain = [mail.in_reply_to, *mail.references[-MAX_REFERENCES:]]
    return [m for m in chain if m and len(m) <= 998]
