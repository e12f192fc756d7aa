"""The IMAP poller: IMAP I/O only. It fetches new mail without marking it, a batch at a time,
hands the batch to ingest_batch (which stores, threads and commits it in one transaction), and
only then marks its messages \\Seen or moves them.

Killed at any moment, it loses nothing: an unmarked message is fetched again and ingest
answers "duplicate" for it. One thread per mailbox; IDLE where the server offers it, polling
otherwise; on any connection or server error it reconnects with exponential back-off.
"""

import contextlib
import hashlib
import logging
import os
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import requests
from flask import Flask, current_app
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from helpdesk import storage
from helpdesk.extensions import db
from helpdesk.mail.mailboxes import Mailbox, MailboxAuth, support_addresses
from helpdesk.mail.prepare import default_workers, prepare_later
from helpdesk.timeutil import utcnow

log = logging.getLogger(__name__)

SEEN, DELETED = rb"\Seen", rb"\Deleted"
DEFAULTS = {
    "HELPDESK_MAIL_IDLE_SECONDS": 240,  # re-issue IDLE this often (RFC 2177: under 29 min)
    "HELPDESK_MAIL_POLL_SECONDS": 60,  # between polls on servers without IDLE
    "HELPDESK_MAIL_RETRY_SECONDS": 2,  # first back-off after a failure; doubles up to the max
    "HELPDESK_MAIL_RETRY_MAX_SECONDS": 300,
    "HELPDESK_MAIL_TIMEOUT_SECONDS": 60,  # socket timeout for connect and each read
    "HELPDESK_MAIL_BATCH": 50,  # messages per FETCH (fewer when they are large)
    "HELPDESK_MAIL_BATCH_BYTES": 8 * 1024 * 1024,
}
LABELS = {  # ingest outcome -> (one, many), for the summary line
    "new_ticket": ("new ticket", "new tickets"),
    "reply": ("reply", "replies"),
    "duplicate": ("duplicate", "duplicates"),
    "auto_reply": ("auto-reply", "auto-replies"),
    "bounce": ("bounce", "bounces"),
    "receipt": ("read receipt", "read receipts"),
    "abuse_report": ("abuse report", "abuse reports"),
    "own_mail_loop": ("own mail (loop)", "own mails (loop)"),
    "too_large": ("too large (quarantined)", "too large (quarantined)"),
}


def setting(name: str) -> float:
    """From the app config, else the environment (for tuning a poller), else the default."""
    value = current_app.config.get(name)
    return float(value if value is not None else os.environ.get(name, DEFAULTS[name]))


def parser_processes() -> int:
    """HELPDESK_MAIL_PARSERS: how many processes store and parse mail beside the poller's
    own, which does the database work ("auto": one per core beyond the first, up to 4; 0:
    the poller parses in its own process)."""
    value = current_app.config.get("HELPDESK_MAIL_PARSERS")
    value = os.environ.get("HELPDESK_MAIL_PARSERS", "auto") if value is None else value
    text = str(value).strip().lower()
    if text in ("", "auto"):
        return default_workers()
    if not text.isdigit() or int(text) > 64:
        raise PollError(f"HELPDESK_MAIL_PARSERS is {value!r}: write auto, or 0 to 64")
    return int(text)


class PollError(Exception):
    """A mailbox could not be reached, signed in to or read; the message says why, no secret."""


class MailboxRemoved(PollError):
    """The mailbox was removed while it was being polled."""


# --- signing in ------------------------------------------------------------------------------

_tokens: dict[int, tuple[str, str, float]] = {}  # mailbox id -> (refresh digest, token, expiry)
_tokens_lock = threading.Lock()


def _digest(mailbox: Mailbox, refresh: str) -> str:
    """What a cached token was issued for: this refresh token at this token endpoint (a
    mailbox re-created under a reused id, or moved to another provider, starts afresh)."""
    return hashlib.sha256(f"{mailbox.oauth_token_url}\n{refresh}".encode()).hexdigest()


def access_token(mailbox: Mailbox, timeout: float = 30) -> str:
    """An OAuth 2 access token for the mailbox: cached until a minute before it expires,
    otherwise exchanged for the stored refresh token at the provider's token endpoint.

    A refresh token the provider rotated is stored and flushed, never committed here: the
    caller may be in the middle of another transaction (sending mail) and commits it."""
    refresh = mailbox.secret
    with _tokens_lock:
        cached = _tokens.get(mailbox.id)
    if cached and cached[0] == _digest(mailbox, refresh) and cached[2] > time.monotonic() + 60:
        return cached[1]
    form = {"grant_type": "refresh_token", "refresh_token": refresh}
    form["client_id"] = mailbox.oauth_client_id or ""
    if mailbox.oauth_client_secret:
        form["client_secret"] = mailbox.oauth_client_secret
    if mailbox.oauth_scope:
        form["scope"] = mailbox.oauth_scope
    try:
        response = requests.post(mailbox.oauth_token_url or "", data=form, timeout=timeout)
        body = response.json() if response.content else {}
    except (requests.RequestException, ValueError) as exc:
        raise PollError(
            f"the OAuth token endpoint did not answer ({exc.__class__.__name__})"
        ) from None
    body = body if isinstance(body, dict) else {}
    if response.status_code != 200 or not body.get("access_token"):
        reason = str(body.get("error") or f"HTTP {response.status_code}")[:100]
        detail = str(body.get("error_description") or "")[:200]
        raise PollError(
            f"the OAuth token endpoint refused the refresh token: {reason}"
            + (f" ({detail})" if detail else "")
        )
    if body.get("refresh_token") and body["refresh_token"] != refresh:
        # Providers may rotate it: keep the new one, with the caller's transaction.
        mailbox.secret = refresh = body["refresh_token"]
        db.session.flush()
    expires = time.monotonic() + float(body.get("expires_in") or 3600)
    with _tokens_lock:
        _tokens[mailbox.id] = (_digest(mailbox, refresh), body["access_token"], expires)
    return body["access_token"]


def forget_token(mailbox_id: int) -> None:
    """Drop the cached access token, so the next sign-in asks the provider for a new one."""
    with _tokens_lock:
        _tokens.pop(mailbox_id, None)


def _server_text(exc: Exception) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text[:300]


def connect(mailbox: Mailbox, timeout: float | None = None) -> IMAPClient:
    """An IMAP connection to the mailbox, signed in; raises PollError saying what failed.
    `timeout` (seconds, for each step) defaults to HELPDESK_MAIL_TIMEOUT_SECONDS. A refresh
    token the provider rotated is flushed: the caller commits."""
    timeout = timeout or setting("HELPDESK_MAIL_TIMEOUT_SECONDS")
    where = f"{mailbox.imap_host}:{mailbox.imap_port}"
    try:
        client = IMAPClient(
            mailbox.imap_host,
            port=mailbox.imap_port,
            ssl=mailbox.imap_tls,
            timeout=SocketTimeout(connect=min(timeout, 15), read=timeout),
        )
    except TimeoutError:
        raise PollError(f"{where} did not answer within {timeout:g} s") from None
    except (OSError, IMAPClientError) as exc:
        raise PollError(f"cannot connect to {where}: {exc.__class__.__name__}: {exc}") from None
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        # IMAPClient turns imaplib's tracing on, which formats the repr of every answer,
        # whole mails included, even when nothing logs it: 3x the memory of a large mail.
        client._imap.debug = 0
    try:
        if mailbox.auth == MailboxAuth.XOAUTH2:
            client.oauth2_login(mailbox.username, access_token(mailbox, min(timeout, 30)))
        else:
            client.login(mailbox.username, mailbox.secret)
    except LoginError as exc:
        forget_token(mailbox.id)  # a revoked token must not be tried again
        _close(client)
        raise PollError(
            f"{where} refused the sign-in as {mailbox.username}: {_server_text(exc)}"
        ) from None
    except TimeoutError:
        _close(client)
        raise PollError(f"{where} did not answer the sign-in within {timeout:g} s") from None
    except BaseException:
        _close(client)
        raise
    return client


def _close(client: IMAPClient | None) -> None:
    if client is None:
        return
    try:
        client.logout()
    except Exception:  # the connection is going away anyway
        with contextlib.suppress(Exception):
            client.shutdown()


def list_folders(mailbox: Mailbox, timeout: float | None = None) -> list[str]:
    """Connect, sign in and list the mailbox's folders; raises PollError. `timeout` as for
    connect; a rotated refresh token is flushed for the caller to commit."""
    timeout = timeout or setting("HELPDESK_MAIL_TIMEOUT_SECONDS")
    client = connect(mailbox, timeout)
    try:
        return sorted(str(name) for _flags, _sep, name in client.list_folders())
    except TimeoutError:
        raise PollError(f"listing the folders got no answer within {timeout:g} s") from None
    except (OSError, IMAPClientError) as exc:
        raise PollError(f"listing the folders failed: {_server_text(exc)}") from None
    finally:
        _close(client)


# --- one drain: fetch, ingest, mark ------------------------------------------------------------


def _pending_uids(client: IMAPClient, processed_folder: str | None, last_uid: int | None):
    """UIDs still to ingest, oldest first. With a processed folder the folder is a queue (all of
    it); otherwise what is unseen, plus what arrived after the last UID done (read by someone)."""
    if processed_folder:
        return sorted(client.search(["UNDELETED"]))
    found = set(client.search(["UNSEEN", "UNDELETED"]))
    if last_uid is not None:
        found.update(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
    return sorted(found)


def _batches(client: IMAPClient, uids: list[int]) -> Iterator[list[int]]:
    """UIDs in groups small enough to FETCH at once, by count and by size."""
    most, most_bytes = int(setting("HELPDESK_MAIL_BATCH")), setting("HELPDESK_MAIL_BATCH_BYTES")
    sizes: dict[int, int] = {}
    for start in range(0, len(uids), 500):
        chunk = client.fetch(uids[start : start + 500], ["RFC822.SIZE"])
        sizes.update((uid, item.get(b"RFC822.SIZE", 0)) for uid, item in chunk.items())
    batch, total = [], 0
    for uid in uids:
        if batch and (len(batch) >= most or total + sizes.get(uid, 0) > most_bytes):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += sizes.get(uid, 0)
    if batch:
        yield batch


def _mark_done(client: IMAPClient, uids: list[int], processed_folder: str | None) -> None:
    """After the commit: flag \\Seen, and move to the processed folder if there is one."""
    if not uids:
        return
    client.add_flags(uids, [SEEN], silent=True)
    if not processed_folder:
        return
    if client.has_capability("MOVE"):
        client.move(uids, processed_folder)
        return
    client.copy(uids, processed_folder)
    client.add_flags(uids, [DELETED], silent=True)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
    else:
        client.expunge()


def _announced_new_mail(client: IMAPClient) -> bool:
    """Did the server announce new mail (EXISTS) with its answer to an earlier command?

    Mail that arrives while a SEARCH runs is announced at the end of that answer, not found
    by it, and not announced again in IDLE. imaplib keeps such unrequested answers, which
    IMAPClient offers no public way to read.
    """
    pending = client._imap.untagged_responses
    return bool(pending.pop("EXISTS", None)) | bool(pending.pop("RECENT", None))


def summary(counts: Counter) -> str:
    """The summary line, e.g. "12 new mail(s): 10 new tickets, 2 replies"."""
    total = sum(counts.values())
    if not total:
        return "no new mail"
    parts = []
    for outcome, count in counts.most_common():
        one, many = LABELS.get(outcome, (outcome.replace("_", " "),) * 2)
        parts.append(f"{count} {one if count == 1 else many}")
    return f"{total} new mail(s): {', '.join(parts)}"


@dataclass
class Backoff:
    """Exponential back-off with jitter, so many pollers don't hammer a server in step."""

    base: float
    cap: float
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_delay(self) -> float:
        self.failures += 1
        ceiling = min(self.cap, self.base * 2 ** min(self.failures - 1, 30))
        return self.rng.uniform(ceiling / 2, ceiling)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, PollError):
        return str(exc)
    if isinstance(exc, SQLAlchemyError):  # its text can quote SQL parameters: name it only
        cause = getattr(exc, "orig", None) or exc
        return f"database error ({cause.__class__.__name__})"
    if isinstance(exc, IMAPClientError):
        return f"IMAP error: {_server_text(exc)}"
    if isinstance(exc, OSError):
        return f"connection lost ({exc.__class__.__name__}: {exc})"
    return f"unexpected error ({exc.__class__.__name__}: {str(exc)[:200]})"


class MailboxPoller:
    """Polls one mailbox in its own thread with its own app context and database session."""

    def __init__(self, app: Flask, mailbox: Mailbox, stop: threading.Event, once: bool = False):
        self.app, self.mailbox_id, self.name = app, mailbox.id, mailbox.name
        self.stop, self.once = stop, once
        self.ok = True
        self.counts: Counter = Counter()
        self.error: str | None = None

    def run(self) -> None:
        with self.app.app_context():
            try:
                if self.once:
                    self._run_once()
                else:
                    self._run_forever()
            finally:
                db.session.remove()

    def _connect(self) -> IMAPClient:
        """Connect and sign in, committing a refresh token the provider rotated on the way
        (also when the sign-in then failed: the old token may no longer work)."""
        try:
            client = connect(self._mailbox())
        except PollError:
            with contextlib.suppress(SQLAlchemyError):  # the PollError is the news to report
                db.session.commit()
            raise
        try:
            db.session.commit()
        except BaseException:
            _close(client)
            raise
        return client

    def _run_once(self) -> None:
        client = None
        try:
            client = self._connect()
            self._drain(client)
        except Exception as exc:
            self._failed(exc)
        finally:
            _close(client)

    def _run_forever(self) -> None:
        backoff = Backoff(
            setting("HELPDESK_MAIL_RETRY_SECONDS"), setting("HELPDESK_MAIL_RETRY_MAX_SECONDS")
        )
        while not self.stop.is_set():
            client = None
            try:
                client = self._connect()
                while not self.stop.is_set():
                    self._drain(client)
                    if _announced_new_mail(client):
                        continue  # it came during the drain: IDLE would not announce it again
                    if backoff.failures:
                        log.info(
                            "%s: working again after %d failure(s)", self.name, backoff.failures
                        )
                        backoff.failures = 0
                    self._wait_for_mail(client)
            except MailboxRemoved:
                log.info("%s: removed; no longer polled", self.name)
                return
            except Exception as exc:
                delay = backoff.next_delay()
                self._failed(exc, f"; trying again in {delay:.1f} s")
                self.stop.wait(delay)
            finally:
                _close(client)

    def _mailbox(self) -> Mailbox:
        db.session.rollback()  # see what others committed (an edit, a new token)
        mailbox = db.session.get(Mailbox, self.mailbox_id)
        if mailbox is None:
            raise MailboxRemoved("the mailbox was removed")
        return mailbox

    def _drain(self, client: IMAPClient) -> Counter:
        """Ingest everything new in the folder; return the outcomes."""
        from helpdesk.mail.ingest import Arrival, ingest_batch, max_mail_size

        mailbox = self._mailbox()
        folder, processed = mailbox.folder, mailbox.processed_folder
        if processed and not client.folder_exists(processed):
            client.create_folder(processed)
        uidvalidity = int(client.select_folder(folder)[b"UIDVALIDITY"])
        _announced_new_mail(client)  # the count SELECT reports is not news
        last_uid = mailbox.last_uid
        if mailbox.uidvalidity != uidvalidity:
            if mailbox.uidvalidity is not None:
                log.warning("%s: UIDVALIDITY of %s changed; reading it afresh", self.name, folder)
            last_uid = None
        addresses = support_addresses()
        root, limit, parsers = str(storage.storage_root()), max_mail_size(), parser_processes()
        db.session.rollback()  # no transaction stays open during the fetches
        counts: Counter = Counter()
        # A pipeline: while a parser process stores and parses one batch, this thread writes
        # the one before it (so a batch waits here, fetched but not yet recorded).
        waiting: deque = deque()

        def record(batch: list[int], arrivals: list[Arrival], prepared, mark=True) -> None:
            nonlocal last_uid
            # One transaction for the batch; nothing is marked on the server before it commits.
            results = ingest_batch(arrivals, addresses, prepared()) if arrivals else []
            counts.update(str(result.outcome) for result in results)
            if mark:
                _mark_done(client, [arrival.uid for arrival in arrivals], processed)
            last_uid = max([last_uid or 0, *batch])
            self._record(uidvalidity=uidvalidity, last_uid=last_uid)

        for batch in _batches(client, _pending_uids(client, processed, last_uid)):
            try:
                fetched = client.fetch(batch, ["BODY.PEEK[]"])
            except Exception:
                # Cut off: what was fetched is still recorded, and marked on a later run (as
                # a duplicate of itself).
                while waiting:
                    record(*waiting.popleft(), mark=False)
                raise
            arrivals = [
                Arrival(raw, self.mailbox_id, uidvalidity, uid)
                for uid in batch
                if (raw := fetched.pop(uid, {}).get(b"BODY[]")) is not None  # else expunged
            ]
            del fetched
            raws = [arrival.raw for arrival in arrivals]
            waiting.append((batch, arrivals, prepare_later(raws, root, limit, parsers)))
            del raws
            if len(waiting) > 1:
                record(*waiting.popleft())
            if self.stop.is_set():
                break  # what is not fetched yet waits for the next run
        while waiting:
            record(*waiting.popleft())
        if not counts:
            self._record(uidvalidity=uidvalidity, last_uid=last_uid)
        else:
            log.info("%s: %s", self.name, summary(counts))
        self.counts.update(counts)
        return counts

    def _record(self, **progress) -> None:
        mailbox = self._mailbox()
        now = utcnow()
        mailbox.last_poll_at = mailbox.last_success_at = now
        mailbox.consecutive_failures, mailbox.last_error = 0, None
        for key, value in progress.items():
            setattr(mailbox, key, value)
        db.session.commit()
        self.ok, self.error = True, None

    def _failed(self, exc: BaseException, then: str = "") -> None:
        message = _describe(exc)
        self.ok, self.error = False, message
        if isinstance(exc, PollError | OSError | IMAPClientError):
            log.warning("%s: %s%s", self.name, message, then)
        else:
            log.exception("%s: %s%s", self.name, message, then)
        try:
            db.session.rollback()
            mailbox = db.session.get(Mailbox, self.mailbox_id)
            if mailbox is not None:
                mailbox.last_poll_at = utcnow()
                mailbox.last_error = message[:1000]
                mailbox.consecutive_failures = (mailbox.consecutive_failures or 0) + 1
                db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            log.warning("%s: could not record the failure: the database is unavailable", self.name)

    def _wait_for_mail(self, client: IMAPClient) -> None:
        """Until new mail arrives, the IDLE period ends or we are stopped."""
        if not client.has_capability("IDLE"):
            self.stop.wait(setting("HELPDESK_MAIL_POLL_SECONDS"))
            return
        deadline = time.monotonic() + setting("HELPDESK_MAIL_IDLE_SECONDS")
        client.idle()
        try:
            while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
                step, started = min(1.0, left), time.monotonic()
                responses = client.idle_check(timeout=step)
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return
                if not responses and time.monotonic() - started < step / 2:
                    return  # idle_check swallows EOF: let idle_done find out if we are cut off
        finally:
            client.idle_done()


def poll(app: Flask, names: list[str] | None = None, once: bool = False, stop=None) -> list:
    """Poll the enabled mailboxes (or those named, enabled or not), a thread each, until `stop`
    is set, or once; return their MailboxPollers. Raises PollError when there is none."""
    stop = stop or threading.Event()
    query = select(Mailbox).order_by(Mailbox.name)
    query = query.where(Mailbox.name.in_(names)) if names else query.where(Mailbox.enabled)
    with app.app_context():
        mailboxes = list(db.session.execute(query).scalars())
        missing = sorted(set(names or ()) - {m.name for m in mailboxes})
        if missing:
            raise PollError(f"no mailbox called {', '.join(missing)}")
        if not mailboxes:
            raise PollError("no mailboxes to poll: add one with `flask mailbox add`")
        parser_processes()  # a bad setting stops here, not in each mailbox's thread
        pollers = [MailboxPoller(app, m, stop, once) for m in mailboxes]
    threads = [threading.Thread(target=p.run, name=f"poll-{p.name}", daemon=True) for p in pollers]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(0.5)  # short joins: the main thread stays free for SIGTERM/SIGINT
    return pollers
