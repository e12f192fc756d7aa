"""A configured CRM: where it is, its encrypted credentials, and whether it is healthy."""

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    case,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk import crypto
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow

# Failed calls in a row after which admins are shown the connection as degraded.
DEGRADED_AFTER = 3
ERROR_MAX = 500


class CrmKind(enum.StrEnum):
    BUILTIN = "builtin"  # the helpdesk's own organizations and contacts
    BITRIX24 = "bitrix24"
    HUBSPOT = "hubspot"


class ConnectionStatus(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"


def _enum(cls) -> Enum:
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class CrmConnection(db.Model):
    __tablename__ = "crm_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    kind: Mapped[CrmKind] = mapped_column(_enum(CrmKind))
    # Not secret: the API root (HubSpot; Bitrix24's is inside the webhook URL).
    base_url: Mapped[str | None] = mapped_column(String(500))
    # HubSpot: the private app's token; Bitrix24: the whole incoming webhook URL.
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # Checks incoming webhooks (HubSpot: the app's client secret; Bitrix24: application_token).
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # Where the CRM shows its records, for links out (HubSpot: learnt from the health check).
    web_url: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    snapshot_ttl: Mapped[int] = mapped_column(Integer, default=3600)  # seconds
    status: Mapped[ConnectionStatus] = mapped_column(
        _enum(ConnectionStatus), default=ConnectionStatus.OK
    )
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX))
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def secret(self) -> str | None:
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else None

    @secret.setter
    def secret(self, value: str | None) -> None:
        self.secret_encrypted = crypto.encrypt(value) if value else None

    @property
    def webhook_secret(self) -> str | None:
        if not self.webhook_secret_encrypted:
            return None
        return crypto.decrypt(self.webhook_secret_encrypted)

    @webhook_secret.setter
    def webhook_secret(self, value: str | None) -> None:
        self.webhook_secret_encrypted = crypto.encrypt(value) if value else None

    @property
    def degraded(self) -> bool:
        return self.status == ConnectionStatus.DEGRADED

    def __repr__(self) -> str:
        return f"<CrmConnection {self.name} {self.kind} {self.status}>"


def active_connections() -> list[CrmConnection]:
    return list(
        db.session.execute(
            select(CrmConnection).where(CrmConnection.active.is_(True)).order_by(CrmConnection.id)
        ).scalars()
    )


def record_success(connection_id: int) -> None:
    """The CRM answered: it is healthy again. An UPDATE, as other workers may be counting too."""
    db.session.execute(
        update(CrmConnection)
        .where(CrmConnection.id == connection_id)
        .values(status=ConnectionStatus.OK, consecutive_failures=0, last_ok_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def record_failure(connection_id: int, message: str) -> None:
    """Count a failed call; after DEGRADED_AFTER in a row, admins see the connection degraded."""
    failures = CrmConnection.consecutive_failures + 1
    db.session.execute(
        update(CrmConnection)
        .where(CrmConnection.id == connection_id)
        .values(
            consecutive_failures=failures,
            last_error=message[:ERROR_MAX],
            last_failure_at=utcnow(),
            status=case(
                (failures >= DEGRADED_AFTER, ConnectionStatus.DEGRADED.value),
                else_=CrmConnection.status,
            ),
        )
        .execution_options(synchronize_session=False)
    )
