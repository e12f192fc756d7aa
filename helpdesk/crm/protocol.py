"""What every CRM adapter offers, and the plain records it answers with."""

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CrmContact:
    external_id: str
    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    company_id: str | None = None
    owner: str | None = None  # the account manager's name (or id when the name is unknown)
    url: str | None = None
    details: dict = field(default_factory=dict)  # shown as-is: position, contract, …

    def as_snapshot(self) -> dict:
        return asdict(self) | {"emails": list(self.emails), "phones": list(self.phones)}


@dataclass(frozen=True)
class CrmCompany:
    external_id: str
    name: str
    domains: tuple[str, ...] = ()
    tax_id: str | None = None
    phones: tuple[str, ...] = ()
    owner: str | None = None
    url: str | None = None
    details: dict = field(default_factory=dict)

    def as_snapshot(self) -> dict:
        return asdict(self) | {"domains": list(self.domains), "phones": list(self.phones)}


@dataclass(frozen=True)
class NoteResult:
    external_id: str
    found_existing: bool = False  # an earlier attempt had created it after all


class CrmError(Exception):
    """A CRM call failed. `maybe_delivered`: the CRM may have acted on it anyway (a timeout
    after the request was sent), so a write must be looked up before it is sent again."""

    def __init__(
        self,
        message: str,
        *,
        maybe_delivered: bool = False,
        status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.maybe_delivered = maybe_delivered
        self.status = status
        self.code = code  # the CRM's own error code, when it sent one


class CrmAuthError(CrmError):
    """The CRM refused the credentials (401/403): an admin must fix the connection."""


class CrmRateLimited(CrmError):
    """The CRM asked us to wait longer than a handler should; the outbox retries later."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message, status=429)
        self.retry_after = retry_after


class CrmAdapter(Protocol):
    """One CRM. Methods raise CrmError; none is ever called while a request waits on it."""

    kind: str

    def find_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[CrmContact]: ...

    def get_contact(self, external_id: str) -> CrmContact | None: ...

    def get_company(self, external_id: str) -> CrmCompany | None: ...

    def find_companies(
        self, *, domain: str | None = None, tax_id: str | None = None
    ) -> list[CrmCompany]: ...

    def add_note(self, contact_id: str, text: str, *, key: str, when: datetime) -> NoteResult: ...

    def find_note(self, contact_id: str, key: str) -> str | None:
        """The id of the note carrying the marker `key`, if the CRM lets us look for it."""

    def record_url(self, subject: str, external_id: str) -> str | None:
        """A link to the record in the CRM's own pages (no call is made)."""

    def verify_webhook(self, method: str, url: str, headers, body: bytes) -> bool: ...

    def health_check(self) -> str:
        """A short description of the account reached; raises CrmError when unreachable."""
