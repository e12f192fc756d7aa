"""The IMAP mailboxes the poller reads: where they are, how to sign in, how polling goes.

Secrets (the IMAP password or OAuth refresh token, and the OAuth client secret) are stored
encrypted with helpdesk.crypto and never leave this module in clear except to sign in.
"""

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app
from sqlalchemy import BigInteger, Boolean, DateTime, Enum, Integer, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk import audit, crypto
from helpdesk.accounts.actor import Actor
from helpdesk.errors import Conflict, NotFound, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.periodic import periodic
from helpdesk.timeutil import utcnow

log = logging.getLogger(__name__)

STALL_MINUTES = 15  # default for HELPDESK_MAILBOX_STALL_MINUTES
TEST_SECONDS = 10  # default for HELPDESK_MAILBOX_TEST_SECONDS: an admin waits for the answer
NAME_MAX = 100
# What the audit trail shows of a mailbox; secrets are only ever said to be replaced.
AUDITED = (
    "name",
    "imap_url",
    "processed_folder",
    "address",
    "auth",
    "smtp_host",
    "smtp_port",
    "smtp_username",
    "smtp_security",
    "oauth_token_url",
    "oauth_client_id",
    "oauth_scope",
)
SECRETS = ("secret", "oauth_client_secret")


class MailboxAuth(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 (the name of a sign-in method)
    XOAUTH2 = "xoauth2"  # Microsoft 365, Google Workspace: an OAuth 2 refresh token


class Mailbox(db.Model):
    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    imap_host: Mapped[str] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(Integer)
    imap_tls: Mapped[bool] = mapped_column(Boolean)
    username: Mapped[str] = mapped_column(String(320))
    folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    processed_folder: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(320))  # the support address it receives
    auth: Mapped[MailboxAuth] = mapped_column(
        Enum(
            MailboxAuth,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=MailboxAuth.PASSWORD,
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)  # password or OAuth refresh token
    oauth_token_url: Mapped[str | None] = mapped_column(String(2000))
    oauth_client_id: Mapped[str | None] = mapped_column(String(500))
    oauth_client_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    oauth_scope: Mapped[str | None] = mapped_column(String(1000))
    # Outgoing mail through the same account; it signs in with the same secret.
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_username: Mapped[str | None] = mapped_column(String(320))
    smtp_security: Mapped[str | None] = mapped_column(String(10))  # ssl, starttls or none
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_poll_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    stalled_at: Mapped[datetime | None] = mapped_column(DateTime)  # set by the stalled check
    # Where the poller got to in the folder; a new UIDVALIDITY starts over.
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value)

    @property
    def oauth_client_secret(self) -> str | None:
        token = self.oauth_client_secret_encrypted
        return crypto.decrypt(token) if token else None

    @property
    def imap_url(self) -> str:
        """The mailbox as an IMAP URL, without its secret."""
        scheme = "imaps" if self.imap_tls else "imap"
        return f"{scheme}://{self.username}@{self.imap_host}:{self.imap_port}/{self.folder}"

    def __repr__(self) -> str:
        return f"<Mailbox {self.name}>"


@dataclass(frozen=True)
class ImapUrl:
    tls: bool
    host: str
    port: int
    username: str
    password: str | None
    folder: str

    def __repr__(self) -> str:  # never show the password, even in a traceback
        return f"ImapUrl({self.username}@{self.host}:{self.port}/{self.folder}, tls={self.tls})"


@dataclass(frozen=True)
class SmtpUrl:
    host: str
    port: int
    username: str | None
    security: str


def parse_imap_url(url: str) -> ImapUrl:
    """`imap[s]://USER[:PASS]@HOST[:PORT][/FOLDER]`, USER and PASS percent-decoded."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps"):
        raise ValidationError("The IMAP URL must start with imap:// or imaps://.").at("imap_url")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise ValidationError("The IMAP URL has an invalid port.").at("imap_url") from None
    if not parts.hostname or not parts.username:
        raise ValidationError("The IMAP URL needs a user and a host: imap://USER@HOST/.").at(
            "imap_url"
        )
    password = unquote(parts.password) if parts.password is not None else None
    return ImapUrl(
        tls=parts.scheme == "imaps",
        host=parts.hostname,
        port=port,
        username=unquote(parts.username),
        password=password or None,
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
    )


def parse_smtp_url(url: str) -> SmtpUrl:
    """`smtp[s]://USER@HOST[:PORT][?tls=starttls|none]`; the password is the mailbox's."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValidationError("The SMTP URL must start with smtp:// or smtps://.").at("smtp_url")
    if parts.password is not None:
        raise ValidationError(
            "Leave the password out of the SMTP URL: it signs in with the mailbox's secret."
        ).at("smtp_url")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 587)
    except ValueError:
        raise ValidationError("The SMTP URL has an invalid port.").at("smtp_url") from None
    if not parts.hostname:
        raise ValidationError("The SMTP URL needs a host: smtp://USER@HOST:PORT.").at("smtp_url")
    default = "ssl" if parts.scheme == "smtps" else ("starttls" if port == 587 else "none")
    security = parse_qs(parts.query).get("tls", [default])[0]
    if security not in ("ssl", "starttls", "none"):
        raise ValidationError("tls= in the SMTP URL is one of ssl, starttls, none.").at("smtp_url")
    username = unquote(parts.username) if parts.username else None
    return SmtpUrl(parts.hostname, port, username, security)


def _require_admin(actor: Actor) -> None:
    if not (actor.is_admin or actor.is_system):
        raise PermissionDenied("Only admins manage mailboxes.")


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_MAX:
        raise ValidationError("A mailbox needs a name of 1 to %(max)s characters.", max=NAME_MAX)
    return name


def _apply_imap(mailbox: Mailbox, imap: ImapUrl) -> None:
    mailbox.imap_tls, mailbox.imap_host, mailbox.imap_port = imap.tls, imap.host, imap.port
    mailbox.username, mailbox.folder = imap.username, imap.folder


def _apply_smtp(mailbox: Mailbox, smtp_url: str | None) -> None:
    if not smtp_url:
        mailbox.smtp_host = mailbox.smtp_port = mailbox.smtp_username = None
        mailbox.smtp_security = None
        return
    smtp = parse_smtp_url(smtp_url)
    mailbox.smtp_host, mailbox.smtp_port = smtp.host, smtp.port
    mailbox.smtp_username, mailbox.smtp_security = smtp.username or mailbox.username, smtp.security


def find_mailbox(name: str) -> Mailbox | None:
    return db.session.execute(select(Mailbox).where(Mailbox.name == name)).scalar_one_or_none()


def get_mailbox(actor: Actor, name: str) -> Mailbox:
    """The mailbox called `name`; raises NotFound."""
    _require_admin(actor)
    mailbox = find_mailbox(name)
    if mailbox is None:
        raise NotFound("There is no mailbox called %(name)s.", name=repr(name))
    return mailbox


def list_mailboxes(actor: Actor) -> list[Mailbox]:
    _require_admin(actor)
    return list(db.session.execute(select(Mailbox).order_by(Mailbox.name)).scalars())


def add_mailbox(
    actor: Actor,
    *,
    name: str,
    imap: ImapUrl,
    secret: str,
    processed_folder: str | None = None,
    address: str | None = None,
    auth: MailboxAuth = MailboxAuth.PASSWORD,
    smtp_url: str | None = None,
    oauth_token_url: str | None = None,
    oauth_client_id: str | None = None,
    oauth_client_secret: str | None = None,
    oauth_scope: str | None = None,
    enabled: bool = True,
) -> Mailbox:
    """Register a mailbox; raises Conflict when the name is taken, ValidationError on bad input."""
    _require_admin(actor)
    name = _clean_name(name)
    if find_mailbox(name) is not None:
        raise Conflict("A mailbox called %(name)s exists already.", name=repr(name))
    if not secret:
        raise ValidationError("The mailbox needs a password (or, for xoauth2, a refresh token).")
    auth = MailboxAuth(auth)
    if auth == MailboxAuth.XOAUTH2 and not (oauth_token_url and oauth_client_id):
        raise ValidationError("xoauth2 needs the provider's token URL and the client id.")
    mailbox = Mailbox(
        name=name,
        processed_folder=processed_folder or None,
        address=(address or "").strip().lower() or None,
        auth=auth,
        oauth_token_url=oauth_token_url or None,
        oauth_client_id=oauth_client_id or None,
        oauth_scope=oauth_scope or None,
        enabled=bool(enabled),
        consecutive_failures=0,
    )
    _apply_imap(mailbox, imap)
    _apply_smtp(mailbox, smtp_url)
    mailbox.secret = secret
    if oauth_client_secret:
        mailbox.oauth_client_secret_encrypted = crypto.encrypt(oauth_client_secret)
    db.session.add(mailbox)
    db.session.flush()
    state = "" if mailbox.enabled else ", disabled"
    audit.record(actor, "mailbox.added", None, f"{_label(mailbox)} ({mailbox.auth}{state})")
    db.session.flush()
    return mailbox


def edit_mailbox(actor: Actor, mailbox: Mailbox, **changes) -> Mailbox:
    """Change settings: imap (an ImapUrl), secret, smtp_url, enabled and the plain fields.
    Audited as mailbox.changed (which settings, secrets only named) and mailbox.enabled or
    mailbox.disabled."""
    _require_admin(actor)
    before, was_enabled = _audit_view(mailbox), mailbox.enabled
    replaced = [key for key in SECRETS if changes.get(key)]
    if "name" in changes:
        name = _clean_name(changes.pop("name"))
        other = find_mailbox(name)
        if other is not None and other.id != mailbox.id:
            raise Conflict("A mailbox called %(name)s exists already.", name=repr(name))
        mailbox.name = name
    imap = changes.pop("imap", None)
    if imap is not None:
        if (imap.host, imap.username, imap.folder) != (
            mailbox.imap_host,
            mailbox.username,
            mailbox.folder,
        ):
            mailbox.uidvalidity = mailbox.last_uid = None  # another folder: start over
        _apply_imap(mailbox, imap)
    if "smtp_url" in changes:
        _apply_smtp(mailbox, changes.pop("smtp_url"))
    if changes.get("secret"):
        mailbox.secret = changes.pop("secret")
    if changes.get("oauth_client_secret"):
        mailbox.oauth_client_secret_encrypted = crypto.encrypt(changes.pop("oauth_client_secret"))
    plain = {"processed_folder", "address", "auth", "oauth_token_url", "oauth_client_id"}
    for key, value in changes.items():
        if key == "enabled":
            mailbox.enabled = bool(value)
        elif key in plain | {"oauth_scope"}:
            setattr(mailbox, key, MailboxAuth(value) if key == "auth" else (value or None))
        elif key not in ("secret", "oauth_client_secret"):
            raise ValidationError("Unknown mailbox setting: %(key)s.", key=key)
    db.session.flush()
    _audit_changes(actor, mailbox, before, replaced)
    if mailbox.enabled != was_enabled:
        action = "mailbox.enabled" if mailbox.enabled else "mailbox.disabled"
        audit.record(actor, action, None, mailbox.name)
    db.session.flush()
    return mailbox


def _label(mailbox: Mailbox) -> str:
    return f"{mailbox.name}: {mailbox.imap_url}"


def _audit_view(mailbox: Mailbox) -> dict[str, str | None]:
    """The settings the audit trail compares, as text; never a secret."""
    values = {key: getattr(mailbox, key) for key in AUDITED}
    return {key: None if value is None else str(value) for key, value in values.items()}


def _audit_changes(actor: Actor, mailbox: Mailbox, before: dict, replaced: list[str]) -> None:
    after = _audit_view(mailbox)
    changed = [key for key in AUDITED if before[key] != after[key]]
    if not changed and not replaced:
        return
    old = "; ".join(f"{key}={before[key] or '-'}" for key in changed)
    new = "; ".join(
        [f"{key}={after[key] or '-'}" for key in changed] + [f"{key} replaced" for key in replaced]
    )
    where = f"{before['name']}: {old}" if old else before["name"]
    audit.record(actor, "mailbox.changed", where, new)


def remove_mailbox(actor: Actor, mailbox: Mailbox) -> None:
    """Forget a mailbox (the mail it brought stays)."""
    _require_admin(actor)
    audit.record(actor, "mailbox.removed", _label(mailbox), None)
    db.session.delete(mailbox)
    db.session.flush()


def test_mailbox(actor: Actor, mailbox: Mailbox) -> list[str]:
    """Connect, sign in and list the folders, giving up after a few seconds (someone is
    waiting); raises poller.PollError saying what failed. A refresh token the provider
    rotated on the way is flushed: the caller commits."""
    _require_admin(actor)
    from helpdesk.mail.poller import list_folders

    seconds = float(current_app.config.get("HELPDESK_MAILBOX_TEST_SECONDS", TEST_SECONDS))
    return list_folders(mailbox, timeout=seconds)


test_mailbox.__test__ = False  # not a pytest test, despite its name


def support_addresses() -> list[str]:
    """Every address the helpdesk receives mail at (to spot our own mail and loops)."""
    found = db.session.execute(select(Mailbox.address).where(Mailbox.address.is_not(None)))
    addresses = {a for a in found.scalars()}
    addresses.add(current_app.config.get("HELPDESK_SUPPORT_ADDRESS", "").lower())
    return sorted(a for a in addresses if a)


# --- health ------------------------------------------------------------------------------------


def stall_after() -> timedelta:
    return timedelta(
        minutes=float(current_app.config.get("HELPDESK_MAILBOX_STALL_MINUTES", STALL_MINUTES))
    )


def is_stalled(mailbox: Mailbox, now: datetime | None = None) -> bool:
    """True when an enabled mailbox has had no successful poll for longer than the stall time:
    the server keeps failing, or nothing polls it at all."""
    if not mailbox.enabled:
        return False
    since = mailbox.last_success_at or mailbox.created_at
    return (now or utcnow()) - since > stall_after()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def mailbox_health() -> list[dict]:
    """Each mailbox's polling state for /healthz (no secrets, no account names)."""
    try:
        mailboxes = db.session.execute(select(Mailbox).order_by(Mailbox.name)).scalars().all()
    except SQLAlchemyError:
        db.session.rollback()
        return []
    now = utcnow()
    return [
        {
            "name": m.name,
            "enabled": m.enabled,
            "last_success_at": _iso(m.last_success_at),
            "stalled": is_stalled(m, now),
            "last_error": m.last_error if m.consecutive_failures else None,
        }
        for m in mailboxes
    ]


@periodic("mail.stalled_check", timedelta(minutes=5))
def check_stalled_mailboxes() -> str | None:
    """Mark (and log, once) mailboxes that stalled; clear the mark when they recover."""
    now, newly = utcnow(), []
    for mailbox in db.session.execute(select(Mailbox)).scalars():
        stalled = is_stalled(mailbox, now)
        if stalled and mailbox.stalled_at is None:
            mailbox.stalled_at = now
            newly.append(mailbox.name)
            log.warning(
                "mailbox %s stalled: no successful poll since %s; last error: %s",
                mailbox.name,
                _iso(mailbox.last_success_at) or "it was added",
                mailbox.last_error or "none (is `flask mail poll` running?)",
            )
        elif not stalled and mailbox.stalled_at is not None:
            mailbox.stalled_at = None
            log.info("mailbox %s polls again", mailbox.name)
    return f"stalled: {', '.join(newly)}" if newly else None
