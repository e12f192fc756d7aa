"""Blocked senders: addresses and whole domains whose mail the poller holds as spam.

Agents block a sender with "mark as spam"; administrators list, add and remove them with
`block_sender`/`unblock_sender`, which leave a line in the admin change log."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk import audit
from helpdesk.errors import Conflict, NotFound, ValidationError
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow
from helpdesk.validation import EMAIL_MAX, clean_domain, clean_email

REASON_MAX = 200


class BlockedSender(db.Model):
    """`pattern` is a lower-case address ("bob@example.com") or a domain ("@example.com")."""

    __tablename__ = "blocked_senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    pattern: Mapped[str] = mapped_column(String(254), unique=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    created_by = relationship("User")

    @property
    def is_domain(self) -> bool:
        return self.pattern.startswith("@")


def pattern_for(address: str, *, whole_domain: bool) -> str:
    """The pattern that blocks `address`, or its whole domain. Raises ValidationError."""
    clean = clean_email(address)
    return "@" + clean.rpartition("@")[2] if whole_domain else clean


def is_blocked(address: str | None) -> bool:
    """True when mail from `address` must be dropped (the address or its domain is listed)."""
    if not address or "@" not in address:
        return False
    clean = address.strip().lower()
    patterns = [clean, "@" + clean.rpartition("@")[2]]
    found = db.session.execute(
        select(BlockedSender.id).where(BlockedSender.pattern.in_(patterns)).limit(1)
    ).first()
    return found is not None


def blocked_among(addresses) -> set[str]:
    """Those of `addresses` (as given) whose mail must be dropped, in one query."""
    wanted: dict[str, list[str]] = {}
    for address in set(addresses):
        if address and "@" in address:
            clean = address.strip().lower()
            for pattern in (clean, "@" + clean.rpartition("@")[2]):
                wanted.setdefault(pattern, []).append(address)
    found: set[str] = set()
    patterns = sorted(wanted)
    for start in range(0, len(patterns), 500):
        chunk = patterns[start : start + 500]
        listed = db.session.execute(
            select(BlockedSender.pattern).where(BlockedSender.pattern.in_(chunk))
        ).scalars()
        for pattern in listed:
            found.update(wanted[pattern])
    return found


def block(pattern: str, *, reason: str | None = None, by_user_id: int | None = None) -> None:
    """Add a pattern (idempotent). The caller checks who may do this."""
    pattern = pattern.strip().lower()
    if not pattern or len(pattern) > 254 or "@" not in pattern:
        raise ValidationError("“%(pattern)s” is not an address or @domain.", pattern=pattern[:60])
    exists = db.session.execute(
        select(BlockedSender.id).where(BlockedSender.pattern == pattern)
    ).first()
    if exists is None:
        db.session.add(
            BlockedSender(
                pattern=pattern, reason=(reason or "")[:200] or None, created_by_id=by_user_id
            )
        )
        db.session.flush()


def parse_pattern(text: str | None) -> str:
    """An address ("bob@example.com") or a domain ("example.com" or "@example.com") as a
    pattern. Raises ValidationError."""
    raw = (text or "").strip()
    if len(raw) > EMAIL_MAX:
        raise ValidationError("That is too long for an address or a domain.", {"pattern": "Long."})
    if "@" in raw.lstrip("@"):
        return clean_email(raw, "pattern")
    return "@" + clean_domain(raw, "pattern")


def blocked_senders() -> list[BlockedSender]:
    """Every blocked address and domain, newest first."""
    stmt = select(BlockedSender).order_by(BlockedSender.created_at.desc(), BlockedSender.id.desc())
    return list(db.session.execute(stmt).scalars())


def block_sender(actor, text: str, *, reason: str | None = None) -> BlockedSender:
    """Block an address or a domain (admins). Raises PermissionDenied, ValidationError,
    Conflict when it is blocked already."""
    audit.require_admin(actor, "Only administrators block senders.")
    pattern = parse_pattern(text)
    reason = " ".join((reason or "").split())
    if len(reason) > REASON_MAX:
        raise ValidationError(
            "The reason is too long (at most %(max)s characters).",
            {"reason": "Long."},
            max=REASON_MAX,
        )
    if db.session.execute(select(BlockedSender).where(BlockedSender.pattern == pattern)).first():
        raise Conflict("%(pattern)s is blocked already.", pattern=pattern)
    row = BlockedSender(
        pattern=pattern, reason=reason or None, created_by_id=actor.user.id, created_at=utcnow()
    )
    db.session.add(row)
    audit.record(actor, "blocked_sender.added", None, pattern)
    db.session.flush()
    return row


def unblock_sender(actor, blocked_id: int) -> str:
    """Accept mail from the address or domain again (admins); returns the pattern.
    Raises PermissionDenied, NotFound."""
    audit.require_admin(actor, "Only administrators unblock senders.")
    row = db.session.get(BlockedSender, blocked_id)
    if row is None:
        raise NotFound("That sender is not blocked (any more).")
    pattern = row.pattern
    db.session.delete(row)
    audit.record(actor, "blocked_sender.removed", pattern, None)
    db.session.flush()
    return pattern
