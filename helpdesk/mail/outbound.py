"""Building outgoing mails: who they are from, how they thread, and their MIME structure.

A mail about a ticket goes out From the support address the customer wrote to, with a
Reply-To that is that address plus-addressed with the ticket's signed token, and a Message-ID
that carries the token too (CONTRACT.md): a reply finds its ticket even when its client drops
the subject. In-Reply-To and References continue the thread the customer's client already
shows, from the Message-IDs stored on the ticket's messages.
"""

import email.policy
import mimetypes
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses, parseaddr
from urllib.parse import urlparse

from flask import current_app
from sqlalchemy import select

from helpdesk import storage
from helpdesk.extensions import db
from helpdesk.mail import loops, mailboxes, tokens
from helpdesk.mail.mailboxes import Mailbox
from helpdesk.mail.models import InboundMail
from helpdesk.tickets.models import Ticket

# The References header keeps the thread's first Message-ID and the latest ones (RFC 5322
# 3.6.4 allows trimming); some servers refuse headers of many kilobytes.
MAX_REFERENCES = 20
# The headers of a stored raw mail that say which of our addresses it was sent to.
_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "to", "cc")
_HEADER_BYTES = 256 * 1024


@dataclass(frozen=True)
class Identity:
    """The support address a mail goes out from, and its mailbox (None: global settings)."""

    address: str
    mailbox: Mailbox | None = None


@dataclass
class OutgoingMail:
    """Everything one mail needs; `build_message` turns it into RFC 5322 bytes."""

    sender: str
    sender_name: str
    to: list[str]
    subject: str
    text: str
    html: str | None
    message_id: str
    cc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    # (filename, content type, bytes, content id or None): a content id makes it inline.
    attachments: list[tuple[str, str, bytes, str | None]] = field(default_factory=list)


def support_addresses() -> list[str]:
    """Every address of ours: each mailbox's, the support address and the default sender."""
    found = mailboxes.support_addresses()
    found.append(parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER") or "")[1])
    addresses: list[str] = []
    for address in found:
        clean = loops.normalize(address)
        if clean and "@" in clean and clean not in addresses:
            addresses.append(clean)
    return addresses


def _mailbox_of(ticket: Ticket) -> Mailbox | None:
    """The mailbox the customer's latest mail on the ticket came in through."""
    ids = [m.id for m in ticket.messages if m.id is not None]
    if not ids:
        return None
    mailbox_id = db.session.execute(
        select(InboundMail.mailbox_id)
        .where(InboundMail.message_id.in_(ids), InboundMail.mailbox_id.is_not(None))
        .order_by(InboundMail.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return db.session.get(Mailbox, mailbox_id) if mailbox_id else None


def _written_to(ticket: Ticket, own: list[str], separator: str) -> str | None:
    """The support address the customer's latest stored mail on the ticket was sent to."""
    for message in sorted(ticket.messages, key=lambda m: m.id, reverse=True):
        if not message.raw_sha256 or message.author_contact_id is None:
            continue
        try:
            with open(storage.blob_path(message.raw_sha256), "rb") as raw:
                headers = BytesHeaderParser(policy=email.policy.compat32).parsebytes(
                    raw.read(_HEADER_BYTES)
                )
        except (OSError, ValueError):
            continue
        values = [str(v) for name in _RECIPIENT_HEADERS for v in headers.get_all(name) or []]
        for _name, address in getaddresses(values):
            for mine in own:
                if loops.is_own_address(address, [mine], separator):
                    return mine
    return None


def _by_address(address: str) -> Mailbox | None:
    return db.session.execute(
        select(Mailbox).where(Mailbox.address == address).order_by(Mailbox.id).limit(1)
    ).scalar_one_or_none()


def identity_for(ticket: Ticket | None, separator: str = "+") -> Identity:
    """From whom a mail about `ticket` goes out: the mailbox the customer wrote to (found by
    the mailbox their mail came through, else by the address it was sent to), else the
    configured support address."""
    if ticket is not None:
        mailbox = _mailbox_of(ticket)
        if mailbox is not None and mailbox.address:
            return Identity(loops.normalize(mailbox.address), mailbox)
        address = _written_to(ticket, support_addresses(), separator)
        if address:
            return Identity(address, _by_address(address))
    default = loops.normalize(current_app.config["HELPDESK_SUPPORT_ADDRESS"])
    return Identity(default, _by_address(default))


def message_id_host(address: str) -> str:
    """The right-hand side of our Message-IDs: the support address's domain."""
    domain = address.rpartition("@")[2]
    return domain or urlparse(current_app.config["HELPDESK_BASE_URL"]).hostname or "localhost"


def new_message_id(ticket: Ticket, address: str) -> str:
    """A fresh Message-ID carrying the ticket's signed token."""
    secret = current_app.config["SECRET_KEY"]
    return tokens.message_id(ticket.number, secret, message_id_host(address))


def reply_to_for(ticket: Ticket, address: str, plus: bool, separator: str) -> str:
    """The address replies go to: plus-addressed with the token, unless that is switched off."""
    if not plus:
        return address
    return tokens.reply_to_address(
        address, ticket.number, current_app.config["SECRET_KEY"], separator
    )


def thread_ids(
    ticket: Ticket, exclude_message_id: int | None = None
) -> tuple[str | None, list[str]]:
    """In-Reply-To and References for a new mail on the ticket: the latest mail of the thread,
    and the whole chain the customer's client knows (trimmed to MAX_REFERENCES)."""
    chain: list[str] = []
    latest = None
    for message in sorted(ticket.messages, key=lambda m: m.id):
        if message.id == exclude_message_id:
            continue
        ids = (message.mail_references or "").split()
        ids += [message.mail_in_reply_to, message.mail_message_id]
        for value in ids:
            if value and value not in chain:
                chain.append(value)
        if message.mail_message_id:
            latest = message.mail_message_id
    if len(chain) > MAX_REFERENCES:
        chain = chain[:1] + chain[-(MAX_REFERENCES - 1) :]
    return latest, chain


def tagged_subject(subject: str, number: int) -> str:
    """The subject on one line, carrying the ticket tag `[#1042]` (added if a template lost it)."""
    line = " ".join(subject.split())
    tag = f"[#{number}]"
    return line if tag in line else f"{tag} {line}".strip()


def _address(address: str, name: str = "") -> Address:
    local, _, domain = address.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def _leaf_type(content_type: str | None, filename: str) -> tuple[str, str]:
    """A type raw bytes can be attached as: multipart/* and message/* need structure, so a
    stored forward (message/rfc822) goes as a plain file, named .eml."""
    for candidate in (content_type, mimetypes.guess_type(filename)[0]):
        maintype, _, subtype = (candidate or "").lower().partition("/")
        if maintype and subtype and maintype not in ("multipart", "message"):
            return maintype, subtype
    return "application", "octet-stream"


def build_message(mail: OutgoingMail) -> EmailMessage:
    """The MIME message: multipart/alternative (text, HTML), in multipart/mixed when files
    are attached."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = mail.subject
    message["From"] = _address(mail.sender, mail.sender_name)
    message["To"] = [_address(a) for a in mail.to]
    if mail.cc:
        message["Cc"] = [_address(a) for a in mail.cc]
    if mail.reply_to:
        message["Reply-To"] = _address(mail.reply_to, mail.sender_name)
    message["Date"] = format_datetime(datetime.now(UTC))  # "+0000": a known zone, not "-0000"
    message["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        message["References"] = " ".join(mail.references)
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    for filename, content_type, data, content_id in mail.attachments:
        maintype, subtype = _leaf_type(content_type, filename)
        extra = {"cid": f"<{content_id.strip('<>')}>"} if content_id else {}
        message.add_attachment(
            data,
            maintype=maintype,
            subtype=subtype,
            filename=filename,
            disposition="inline" if content_id else "attachment",
            **extra,
        )
    return message
