"""One raw mail in, the right ticket (or the right record) out, exactly once.

The raw bytes go to storage first; then parse, classify, thread and apply, recorded as an
InboundMail row. The poller hands over a batch of mails at a time: one transaction for the
batch, a savepoint for each mail, the files synced to disk together just before the single
commit. A mail that fails goes to quarantine with its error (the raw stays stored) and can be
retried; the rest of its batch and the mailbox keep flowing.

What a batch's mails have in common is looked up once for the batch (earlier deliveries,
blocked senders, our addresses, the contacts who own their addresses and the organizations
of their domains, the tickets of the Message-IDs they refer to), and their side
effects (acknowledgements, notifications) are written to the outbox together at its end, so a
mail costs few statements.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from helpdesk import outbox, storage
from helpdesk.contacts.services import KnownContacts, contacts_known, organizations_known
from helpdesk.errors import NotFound
from helpdesk.extensions import db
from helpdesk.mail.autodetect import classify
from helpdesk.mail.models import HELD_OUTCOMES, QUARANTINE_OUTCOMES, InboundMail, Outcome
from helpdesk.mail.parse import ParsedMail, parse_message
from helpdesk.mail.prepare import (
    Arrival,
    PreparedMail,
    body_sha256,
    failure_text,
    header_block,
    message_key,
    prepare_mails,
)
from helpdesk.mail.routing import BatchLookup, apply_mail, our_addresses
from helpdesk.outbox import dispatch
from helpdesk.outbox.runner import HANDLERS, handler
from helpdesk.tickets import blocklist
from helpdesk.tickets.services import one_flush
from helpdesk.timeutil import utcnow

log = logging.getLogger(__name__)

TOO_LARGE_NOTICE = "mail.too_large_notice"


@dataclass
class IngestResult:
    outcome: str  # an Outcome value
    ticket_number: int | None
    inbound_id: int
    detail: str  # one human line


def ingest_raw(
    raw: bytes,
    *,
    mailbox_id: int | None = None,
    uidvalidity: int | None = None,
    uid: int | None = None,
    support_addresses: Sequence[str] = (),
) -> IngestResult:
    """Store, parse, classify, thread and apply one mail, and COMMIT. Idempotent: the same
    Message-ID (or raw hash when none) or the same (mailbox_id, uidvalidity, uid) returns the
    earlier result with outcome "duplicate" and changes nothing. Never raises for a bad mail:
    a failure rolls back, records the mail as quarantined with the error (raw kept), commits
    that, and returns outcome "quarantined". Raises only when the database itself is unusable
    (or the raw mail cannot be stored: then nothing was recorded, and the mail must stay)."""
    arrival = Arrival(raw, mailbox_id, uidvalidity, uid)
    return ingest_batch([arrival], support_addresses)[0]


def ingest_batch(
    arrivals: Sequence[Arrival],
    support_addresses: Sequence[str] = (),
    prepared: Sequence[PreparedMail] | None = None,
) -> list[IngestResult]:
    """ingest_raw for several mails in ONE transaction, committed once: a result per mail, in
    order. Each mail runs in its own savepoint, so a bad one is quarantined without undoing the
    others. The raw mails and their files are synced to disk together, before the commit that
    records them. Raises (and records nothing) only when the database is unusable or a file
    cannot be stored: then every mail of the batch must stay where it is.
    `prepared`: the arrivals already stored and parsed (prepare.prepare_mails, perhaps in a
    parser process while the previous batch was written); their files are synced here."""
    with dispatch.foreground(), storage.synced_together() as files:
        # Stored and parsed first, without a transaction: the write lock is held for the
        # database work only.
        if prepared is None:
            raws = [arrival.raw for arrival in arrivals]
            prepared = prepare_mails(raws, str(storage.storage_root()), max_mail_size())
        files.adopt(path for item in prepared for path in item.paths)
        for arrival, item in zip(arrivals, prepared, strict=True):
            item.arrival = arrival
        _begin_batch()
        try:
            addresses = _addresses(prepared)
            with organizations_known(addresses), contacts_known(addresses) as contacts:
                context = _BatchContext(prepared, support_addresses, contacts)
                results = [_ingest_one(item, context) for item in prepared]
            outbox.add_collected(context.side_effects)
            files.sync()  # raw mails and attachments on disk before the rows that name them
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return results


def _begin_batch() -> None:
    """A fresh transaction that savepoints really nest in.

    SQLite's Python driver begins a transaction only before its first INSERT/UPDATE/DELETE,
    so a SAVEPOINT that comes first opens the transaction itself, and releasing it would
    commit. An explicit BEGIN IMMEDIATE avoids that, and takes the write lock now (waiting
    its turn), so the batch cannot fail halfway because another process wrote meanwhile."""
    db.session.commit()  # whatever the caller had pending: ingest commits, as it always did
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class _BatchContext:
    """What every mail of a batch shares: our addresses, its blocked senders, the rows
    already recorded for its UIDs and its identities (kept up to date as the batch records
    more), its look-ups of contacts and Message-IDs, and the outbox items of the mails
    recorded so far."""

    def __init__(
        self,
        prepared: Sequence[PreparedMail],
        support_addresses: Sequence[str],
        contacts: KnownContacts,
    ):
        self.support_addresses = support_addresses
        self.ours = our_addresses(support_addresses)
        self.by_place = _earlier_by_places([item.arrival for item in prepared])
        self.by_identity = _earlier_by_identities([i.identity for i in prepared if i.identity])
        self.blocked = blocklist.blocked_among([i.mail.from_address for i in prepared if i.mail])
        self.lookup = BatchLookup([item.mail for item in prepared if item.mail])
        self.contacts = contacts
        self.side_effects: list = []

    def recorded(self, row: InboundMail, side_effects: list = ()) -> None:
        self.by_identity[(row.mail_message_id, row.content_sha256)] = row
        if self.by_place is not None and row.uid is not None:
            self.by_place[row.uid] = row
        self.side_effects.extend(side_effects)


def _addresses(prepared: Sequence[PreparedMail]) -> list[str]:
    """Every sender and Cc address of the batch: the contacts it may create."""
    found = []
    for item in prepared:
        if item.mail is not None:
            found.append(item.mail.from_address or "")
            found.extend(address for _name, address in item.mail.cc)
    return found


def _ingest_one(item: PreparedMail, context: _BatchContext) -> IngestResult:
    """One mail of the batch in a savepoint of its own: a duplicate, recorded, or (on any
    failure, which the savepoint undoes) quarantined."""
    for attempt in (1, 2):
        try:
            # Its outbox items are kept aside, and written with the batch's only if the
            # savepoint holds.
            with (
                context.contacts.attempt(),
                outbox.collecting() as side_effects,
                db.session.begin_nested(),
            ):
                earlier = _earlier(item, context, look_again=attempt == 2)
                if earlier is not None:
                    return _duplicate(earlier)
                if item.failure is not None:
                    break  # the parser failed
                row = _record(item, context)
            context.recorded(row, side_effects)
            return _result(row)
        except IntegrityError as exc:
            # A twin committed first (then we are a duplicate), or someone created the same
            # contact at the same moment (then a second attempt finds it).
            if attempt == 2:
                return _quarantine(item, failure_text(exc), context)
        except Exception as exc:
            return _quarantine(item, failure_text(exc), context)
    return _quarantine(item, item.failure, context)


def _earlier(item: PreparedMail, context: _BatchContext, look_again: bool) -> InboundMail | None:
    """The row of an earlier delivery of this mail: from the batch's look-ups, or (after a
    conflict, when another process may have committed one since) from the database."""
    arrival, identity = item.arrival, item.identity
    if context.by_place is None or look_again:
        earlier = _earlier_by_place(arrival.place)
    else:
        earlier = context.by_place.get(arrival.uid)
    if earlier is not None or identity is None:
        return earlier
    if look_again:
        return _earlier_by_identity(*identity)
    return context.by_identity.get(identity)


def _record(item: PreparedMail, context: _BatchContext) -> InboundMail:
    """Apply the mail and write its row (flushed: a twin's unique index fails here)."""
    raw, headers = item.arrival.raw, item.headers
    row = InboundMail(
        raw_sha256=item.digest,
        raw_size=len(raw),
        mail_message_id=item.identity[0],
        content_sha256=item.identity[1],
        outcome=Outcome.QUARANTINED,  # until decided
        sender=(headers.from_address or "")[:254] or None,
        subject=headers.subject[:250] or None,
        attempts=1,
        **item.arrival.place,
    )
    if item.mail is None:
        db.session.add(row)
        db.session.flush()  # the notice names the row
        _record_too_large(row, raw, headers, context.support_addresses)
        db.session.flush()
        return row
    # The ticket services leave their flush to us: the mail's ticket or message and its row
    # are written in one flush.
    with one_flush() as flush:
        apply_mail(
            row,
            item.mail,
            context.support_addresses,
            ours=context.ours,
            blocked=context.blocked,
            classification=item.classification,
            lookup=context.lookup,
        )
        # Added only now, so it is written once (not inserted, then updated twice); a twin
        # that another process committed meanwhile fails here, and the savepoint undoes
        # everything this mail did.
        db.session.add(row)
        flush()
    return row


def retry(inbound_id: int, support_addresses: Sequence[str] = ()) -> IngestResult:
    """Process a quarantined mail again from its stored raw bytes. Raises NotFound."""
    row = db.session.get(InboundMail, inbound_id)
    if row is None or row.outcome not in QUARANTINE_OUTCOMES:
        raise NotFound("There is no quarantined mail %(number)s.", number=inbound_id)
    return _reprocess(row, support_addresses, release=False)


def release(inbound_id: int, support_addresses: Sequence[str] = ()) -> IngestResult:
    """Take a mail off the spam list and process it as a normal mail. Raises NotFound."""
    row = db.session.get(InboundMail, inbound_id)
    if row is None or row.outcome not in HELD_OUTCOMES:
        raise NotFound("There is no held (spam or blocked) mail %(number)s.", number=inbound_id)
    return _reprocess(row, support_addresses, release=True)


def _reprocess(row: InboundMail, support_addresses: Sequence[str], release: bool):
    row_id = row.id
    try:
        raw = storage.read_blob(row.raw_sha256)
        row.attempts += 1
        row.error = row.ticket = row.message = row.rule = row.explanation = None
        row.updated_at = utcnow()
        limit = max_mail_size()
        if len(raw) > limit:
            row.outcome = Outcome.TOO_LARGE
            row.error = f"message is {len(raw)} bytes, over the limit of {limit} bytes"
        else:
            apply_mail(row, parse_message(raw, limit), support_addresses, release=release)
        result = _result(row)
        db.session.commit()
        return result
    except Exception as exc:
        db.session.rollback()
        row = db.session.get(InboundMail, row_id)
        row.attempts += 1
        row.outcome = Outcome.QUARANTINED
        row.error = failure_text(exc)
        row.detail = _error_line(row.error)
        row.updated_at = utcnow()
        db.session.commit()
    return _result(row)


# ---- identity and records -----------------------------------------------------------------


def _earlier_by_place(place: dict) -> InboundMail | None:
    if place["mailbox_id"] is None or place["uid"] is None:
        return None
    return db.session.execute(
        select(InboundMail).where(
            InboundMail.mailbox_id == place["mailbox_id"],
            InboundMail.uidvalidity == place["uidvalidity"],
            InboundMail.uid == place["uid"],
        )
    ).scalar_one_or_none()


def _earlier_by_places(arrivals: Sequence[Arrival]) -> dict[int, InboundMail] | None:
    """Rows already recorded for the batch's UIDs, by UID, in one query when they are all of
    one mailbox folder (None otherwise: then each mail is looked up on its own)."""
    places = {(a.mailbox_id, a.uidvalidity) for a in arrivals}
    uids = [a.uid for a in arrivals]
    if len(places) != 1 or None in uids or len(set(uids)) != len(uids):
        return None
    (mailbox_id, uidvalidity), found = places.pop(), {}
    if mailbox_id is None:
        return None
    for start in range(0, len(uids), 500):
        rows = db.session.execute(
            select(InboundMail).where(
                InboundMail.mailbox_id == mailbox_id,
                InboundMail.uidvalidity == uidvalidity,
                InboundMail.uid.in_(uids[start : start + 500]),
            )
        ).scalars()
        found.update((row.uid, row) for row in rows)
    return found


def _earlier_by_identities(identities: list[tuple[str, str]]) -> dict:
    """Rows already recorded for any of these (message key, body hash) pairs, by pair."""
    keys, found = sorted({key for key, _content in identities}), {}
    for start in range(0, len(keys), 500):
        rows = db.session.execute(
            select(InboundMail).where(InboundMail.mail_message_id.in_(keys[start : start + 500]))
        ).scalars()
        found.update(((row.mail_message_id, row.content_sha256), row) for row in rows)
    return found


def _earlier_by_identity(key: str, content_sha256: str) -> InboundMail | None:
    return db.session.execute(
        select(InboundMail).where(
            InboundMail.mail_message_id == key,
            InboundMail.content_sha256 == content_sha256,
        )
    ).scalar_one_or_none()


def _duplicate(earlier: InboundMail) -> IngestResult:
    number = earlier.ticket.number if earlier.ticket is not None else None
    detail = f"already received as inbound mail {earlier.id} ({earlier.outcome})"
    return IngestResult(Outcome.DUPLICATE, number, earlier.id, detail)


def _result(row: InboundMail) -> IngestResult:
    number = row.ticket.number if row.ticket is not None else None
    return IngestResult(row.outcome, number, row.id, row.detail or "")


def _quarantine(item: PreparedMail, error: str, context: _BatchContext) -> IngestResult:
    """Record the failed mail (in a savepoint of its own); a duplicate if a twin got in first."""
    raw, digest, place = item.arrival.raw, item.digest, item.arrival.place
    key, content = item.identity or (message_key(None, digest), body_sha256(raw))
    earlier = _earlier_by_place(place) or _earlier_by_identity(key, content)
    if earlier is not None:
        return _duplicate(earlier)
    log.warning("inbound mail %s quarantined: %s", digest[:12], _error_line(error))
    row = InboundMail(
        raw_sha256=digest,
        raw_size=len(raw),
        mail_message_id=key,
        content_sha256=content,
        outcome=Outcome.QUARANTINED,
        error=error,
        detail=_error_line(error),
        attempts=1,
        **place,
    )
    _summarize_headers(row, raw, item.headers)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:  # a twin was recorded in the meantime
        earlier = _earlier_by_place(place) or _earlier_by_identity(key, content)
        if earlier is None:
            raise
        return _duplicate(earlier)
    context.recorded(row)
    return _result(row)


def _summarize_headers(row: InboundMail, raw: bytes, headers: ParsedMail | None) -> None:
    """Sender and subject for the list: from the parsed headers, or read from the raw
    headers when the parser failed."""
    try:
        headers = headers or parse_message(header_block(raw) + b"\n\n")
    except Exception:  # a summary for the list only; the error is what matters
        return
    row.sender = (headers.from_address or "")[:254] or None
    row.subject = headers.subject[:250] or None


def _error_line(error: str) -> str:
    return ("processing failed: " + error.split("\n", 1)[0])[:500]


def _record_too_large(
    row: InboundMail, raw: bytes, headers: ParsedMail, support_addresses: Sequence[str]
) -> None:
    """Keep it raw in quarantine and tell the sender (unless a machine sent it)."""
    limit = max_mail_size()
    row.outcome = Outcome.TOO_LARGE
    row.error = f"message is {len(raw)} bytes, over the limit of {limit} bytes"
    size_mb = len(raw) / 1048576
    row.detail = f"too large ({size_mb:.1f} MB; the limit is {_megabytes(limit)} MB): kept raw"
    ours = our_addresses(support_addresses)
    if row.sender and row.sender not in ours and classify(headers).may_acknowledge:
        outbox.enqueue(
            TOO_LARGE_NOTICE,
            {
                "inbound_id": row.id,
                "to": row.sender,
                "subject": row.subject or "",
                "size": len(raw),
                "limit": limit,
            },
        )
        row.detail += "; the sender will be told"


if TOO_LARGE_NOTICE not in HANDLERS:

    @handler(TOO_LARGE_NOTICE)
    def _log_too_large_notice(payload: dict) -> str:
        # The outbound-mail work replaces this with a real mail to the sender.
        log.info("a too-large mail from %s was kept in quarantine", payload.get("to"))
        return "logged (no notice template yet)"


def _megabytes(size: int) -> str:
    """A size in MB as people write it: "25", "2.5", "0.1", "0.05"."""
    megabytes = size / 1048576
    return (f"{megabytes:.1f}" if megabytes >= 0.095 else f"{megabytes:.2g}").removesuffix(".0")


def max_mail_size() -> int:
    return int(float(current_app.config.get("HELPDESK_MAX_MAIL_MB", 25)) * 1024 * 1024)
