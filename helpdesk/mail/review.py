"""Agents reviewing received mail: the quarantine, the spam list, unattached bounces and
the original of any mail. Retry and release re-run ingest (helpdesk.mail.ingest) on the
stored raw mail; every decision an agent makes here is audited.
"""

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from helpdesk import audit, storage
from helpdesk.accounts.actor import Actor
from helpdesk.errors import NotFound
from helpdesk.extensions import db
from helpdesk.i18n import N_
from helpdesk.mail import ingest
from helpdesk.mail.models import HELD_OUTCOMES, QUARANTINE_OUTCOMES, InboundMail, Outcome
from helpdesk.mail.parse import parse_message
from helpdesk.mail.prepare import header_block
from helpdesk.tickets import permissions
from helpdesk.timeutil import utcnow

LIST_LIMIT = 200
PREVIEW_CHARS = 4000
HEADERS_MAX = 64 * 1024


@dataclass(frozen=True)
class Preview:
    """A held mail as an agent may safely see it: plain text only, no remote content."""

    text: str
    attachments: list[str]
    shortened: bool


def _require_staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise NotFound("There is no such mail.")


def _rows(outcomes, limit: int) -> list[InboundMail]:
    return list(
        db.session.execute(
            select(InboundMail)
            .where(InboundMail.outcome.in_([str(o) for o in outcomes]))
            .order_by(InboundMail.created_at.desc(), InboundMail.id.desc())
            .limit(limit)
        ).scalars()
    )


def quarantined(actor: Actor, limit: int = LIST_LIMIT) -> list[InboundMail]:
    """Mail that failed or was too large, newest first."""
    _require_staff(actor)
    return _rows(QUARANTINE_OUTCOMES, limit)


def _count(outcomes) -> int:
    found = select(func.count()).where(InboundMail.outcome.in_([str(o) for o in outcomes]))
    return db.session.execute(found).scalar_one()


def quarantine_count() -> int:
    return _count(QUARANTINE_OUTCOMES)


def held_count() -> int:
    return _count(HELD_OUTCOMES)


def held(actor: Actor, limit: int = LIST_LIMIT) -> list[InboundMail]:
    """Mail held as spam or from a blocked sender, newest first."""
    _require_staff(actor)
    return _rows(HELD_OUTCOMES, limit)


def unattached_bounces(actor: Actor, limit: int = LIST_LIMIT) -> list[InboundMail]:
    """Bounces that matched no mail we sent: logged here for admins to look at."""
    _require_staff(actor)
    return list(
        db.session.execute(
            select(InboundMail)
            .where(InboundMail.outcome == str(Outcome.BOUNCE), InboundMail.ticket_id.is_(None))
            .order_by(InboundMail.created_at.desc(), InboundMail.id.desc())
            .limit(limit)
        ).scalars()
    )


def get_inbound(actor: Actor, inbound_id: int) -> InboundMail:
    """One received mail, for staff who may see the ticket it went to. Raises NotFound."""
    _require_staff(actor)
    row = db.session.get(InboundMail, inbound_id)
    if row is None or (
        row.ticket is not None and not permissions.can_view_ticket(actor, row.ticket)
    ):
        raise NotFound("There is no such mail.")
    return row


def inbound_of_messages(message_ids: list[int]) -> dict[int, InboundMail]:
    """The received mail behind each of these messages (those that came by mail)."""
    if not message_ids:
        return {}
    rows = db.session.execute(
        select(InboundMail).where(InboundMail.message_id.in_(message_ids))
    ).scalars()
    return {row.message_id: row for row in rows}


def original(actor: Actor, row: InboundMail) -> bytes:
    """The raw mail as it arrived. Raises NotFound when storage lost it."""
    _require_staff(actor)
    try:
        return storage.read_blob(row.raw_sha256)
    except (OSError, ValueError):
        raise NotFound("The original of this mail is missing from storage.") from None


def header_text(actor: Actor, row: InboundMail) -> str:
    """The mail's header block as text (shown escaped, on demand)."""
    raw = original(actor, row)
    return header_block(raw)[:HEADERS_MAX].decode("utf-8", "replace")


def preview(actor: Actor, row: InboundMail) -> Preview:
    """What a held mail says, as plain text: its HTML, images and links are never loaded."""
    raw = original(actor, row)
    limit = int(float(current_app.config.get("HELPDESK_MAX_MAIL_MB", 25)) * 1024 * 1024)
    if len(raw) > limit:
        return Preview("(too large to preview: download the original)", [], False)
    try:
        mail = parse_message(raw, limit)
    except Exception as exc:  # a mail that broke the parser: show that, not a traceback
        return Preview(f"(cannot be read: {type(exc).__name__})", [], False)
    text = mail.text or ""
    names = [a.filename for a in mail.attachments if not a.inline][:20]
    return Preview(text[:PREVIEW_CHARS], names, len(text) > PREVIEW_CHARS)


def _audit(actor: Actor, action: str, row: InboundMail, new: str | None = None) -> None:
    what = f"inbound mail {row.id}: {row.sender or 'no sender'}: {row.subject or 'no subject'}"
    audit.record(actor, action, what, new, ticket_id=row.ticket_id)
    db.session.flush()


_NOT_QUARANTINED = N_("Mail %(number)s is not in quarantine (any more).")
_NOT_SPAM = N_("Mail %(number)s is not held as spam (any more).")


def _held_row(actor: Actor, inbound_id: int, outcomes, refusal: str) -> InboundMail:
    row = get_inbound(actor, inbound_id)
    if row.outcome not in outcomes:
        raise NotFound(refusal, number=inbound_id)
    return row


def retry_mail(actor: Actor, inbound_id: int) -> ingest.IngestResult:
    """Process a quarantined mail again. Ingest commits the outcome itself; the audit line
    is flushed afterwards for the caller to commit. Raises NotFound."""
    _held_row(actor, inbound_id, QUARANTINE_OUTCOMES, _NOT_QUARANTINED)
    result = ingest.retry(inbound_id)
    _audit(actor, "mail.retried", db.session.get(InboundMail, inbound_id), result.outcome)
    return result


def release_mail(actor: Actor, inbound_id: int) -> ingest.IngestResult:
    """Take a mail off the spam list and process it as a normal mail (a ticket or a reply,
    acknowledged as any other). Ingest commits; the audit line is flushed. Raises NotFound."""
    _held_row(actor, inbound_id, HELD_OUTCOMES, _NOT_SPAM)
    result = ingest.release(inbound_id)
    _audit(actor, "mail.released", db.session.get(InboundMail, inbound_id), result.outcome)
    return result


def discard_mail(actor: Actor, inbound_id: int) -> InboundMail:
    """Take a mail out of the quarantine unprocessed; its original stays on disk."""
    row = _held_row(actor, inbound_id, QUARANTINE_OUTCOMES, _NOT_QUARANTINED)
    old = row.outcome
    row.outcome, row.updated_at = str(Outcome.DISMISSED), utcnow()
    _audit(actor, "mail.discarded", row, f"{old} -> {Outcome.DISMISSED}")
    return row


def delete_spam(actor: Actor, inbound_id: int) -> InboundMail:
    """Take a held mail off the spam list for good. The row stays, so the same mail arriving
    again is recognized as a duplicate instead of being listed once more."""
    row = _held_row(actor, inbound_id, HELD_OUTCOMES, _NOT_SPAM)
    old = row.outcome
    row.outcome, row.updated_at = str(Outcome.DELETED), utcnow()
    _audit(actor, "mail.deleted", row, f"{old} -> {Outcome.DELETED}")
    return row
