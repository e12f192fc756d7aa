"""Which CRM record a requester (contact) or an organization is, and what we last saw of it."""

import enum
import json
from datetime import datetime, timedelta

from sqlalchemy import Boolean, DateTime, Enum, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from helpdesk.crm.matching import may_update_automatically
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow


class Subject(enum.StrEnum):
    CONTACT = "contact"
    ORGANIZATION = "organization"


class CrmLink(db.Model):
    """One per (connection, contact) and per (connection, organization).

    `external_id` is None while nothing (or several records: `candidates`) matched, and after
    an agent removed the link. Flags record what an agent did: such a link is never changed by
    the automatic matching again.
    """

    __tablename__ = "crm_links"
    __table_args__ = (
        Index("ix_crm_links_connection_contact", "connection_id", "contact_id", unique=True),
        Index("ix_crm_links_connection_org", "connection_id", "organization_id", unique=True),
        Index("ix_crm_links_connection_external", "connection_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("crm_connections.id", ondelete="CASCADE"))
    subject: Mapped[Subject] = mapped_column(
        Enum(Subject, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(500))
    match_rule: Mapped[str | None] = mapped_column(String(20))
    confidence: Mapped[float | None] = mapped_column(Float)
    candidates_json: Mapped[str | None] = mapped_column(Text)  # ambiguous: [{id, name, url}]
    snapshot_json: Mapped[str | None] = mapped_column(Text)
    snapshot_at: Mapped[datetime | None] = mapped_column(DateTime)
    refresh_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    confirmed_by_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    set_by_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    unlinked_by_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    connection = relationship("CrmConnection")
    contact = relationship("Contact")
    organization = relationship("Organization")
    agent = relationship("User")

    @property
    def snapshot(self) -> dict | None:
        return json.loads(self.snapshot_json) if self.snapshot_json else None

    @snapshot.setter
    def snapshot(self, value: dict | None) -> None:
        self.snapshot_json = json.dumps(value, sort_keys=True) if value is not None else None
        self.snapshot_at = utcnow() if value is not None else None

    @property
    def candidates(self) -> list[dict]:
        return json.loads(self.candidates_json) if self.candidates_json else []

    @candidates.setter
    def candidates(self, value: list[dict]) -> None:
        self.candidates_json = json.dumps(value) if value else None

    @property
    def held_by_agent(self) -> bool:
        """Confirmed, set or removed by an agent: the automatic matching leaves it alone."""
        return not may_update_automatically(
            bool(self.confirmed_by_agent), bool(self.set_by_agent), bool(self.unlinked_by_agent)
        )

    def is_stale(self, ttl_seconds: int, now: datetime | None = None) -> bool:
        if self.external_id is None:
            return False
        if self.snapshot_at is None:
            return True
        return (now or utcnow()) - self.snapshot_at > timedelta(seconds=ttl_seconds)

    def __repr__(self) -> str:
        subject_id = self.contact_id or self.organization_id
        return f"<CrmLink {self.subject} {subject_id} → {self.external_id}>"
