"""Blocked senders: addresses and whole domains whose mail the poller drops as spam."""

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk.errors import ValidationError
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow
from helpdesk.validation import clean_email


class BlockedSender(db.Model):
    """`pattern` is a lower-case address ("bob@example.com") or a domain ("@example.com")."""

    __tablename__ = "blocked_senders"

    id: Mapped[int] = mapped_column(primary_key=True)
    pattern: Mapped[str] = mapped_column(String(254), unique=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


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


def block(pattern: str, *, reason: str | None = None, by_user_id: int | None = None) -> None:
    """Add a pattern (idempotent). The caller checks who may do this."""
    pattern = pattern.strip().lower()
    if not pattern or len(pattern) > 254 or "@" not in pattern:
        raise ValidationError(f"“{pattern[:60]}” is not an address or @domain.")
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
