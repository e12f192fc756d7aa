"""Storing and parsing raw mail, the part of ingest that needs neither the app nor the
database: so it can run in other processes while the poller writes the previous batch.

prepare_mails() is the work itself (a pure function of the bytes, but for the files it
saves). prepare_later() hands a batch to a pool of parser processes and returns a function
that waits for the result; without workers, for large mails, or when a worker fails, the
same work runs in the calling process instead, so the outcome never depends on the pool.
"""

import hashlib
import logging
import multiprocessing
import os
import re
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from helpdesk import storage
from helpdesk.mail.autodetect import Classification, classify
from helpdesk.mail.parse import ParsedMail, parse_message

log = logging.getLogger(__name__)

# A batch holding a mail this large is parsed in the poller's own process: handing it to a
# worker and back would copy it twice, and its parse needs the memory either way.
INLINE_BYTES = 2 * 1024 * 1024
_HEADER_END = re.compile(rb"\r?\n\r?\n")


@dataclass
class Arrival:
    """One raw mail to ingest, and where it came from (a mailbox's UID, or nowhere: a file)."""

    raw: bytes
    mailbox_id: int | None = None
    uidvalidity: int | None = None
    uid: int | None = None

    @property
    def place(self) -> dict:
        return {"mailbox_id": self.mailbox_id, "uidvalidity": self.uidvalidity, "uid": self.uid}


@dataclass
class PreparedMail:
    """A mail stored and parsed (or the parser's failure), ready for the database work."""

    digest: str  # sha256 of the raw mail, as stored
    identity: tuple[str, str] | None = None  # (message key, body hash)
    headers: ParsedMail | None = None
    mail: ParsedMail | None = None  # None when too large (or not parsed)
    classification: Classification | None = None  # of `mail`
    failure: str | None = None
    paths: list[str] = field(default_factory=list)  # files saved unsynced: sync, then record
    arrival: Arrival | None = None  # set by ingest (a parser process does not send it back)


def prepare_mails(raws: Sequence[bytes], root: str, limit: int) -> list[PreparedMail]:
    """Store each raw mail under `root` (unsynced: the caller syncs the returned paths before
    it records them) and parse it. Raises only when a file cannot be stored."""
    with storage.unsynced() as files:
        prepared = []
        for raw in raws:
            item = _prepare_one(raw, Path(root), limit)
            item.paths = [str(path) for path in files.take()]
            prepared.append(item)
        return prepared


def _prepare_one(raw: bytes, root: Path, limit: int) -> PreparedMail:
    # Stored before anything else: whatever happens next, it is kept.
    digest = storage.save_blob(raw, root)
    try:
        mail = parse_message(raw, limit) if len(raw) <= limit else None
        headers = mail or parse_message(header_block(raw) + b"\n\n")
        identity = (message_key(headers.message_id, digest), body_sha256(raw))
        classification = classify(mail) if mail is not None else None
    except Exception as exc:
        return PreparedMail(digest, failure=failure_text(exc))
    return PreparedMail(digest, identity, headers, mail, classification)


def message_key(message_id: str | None, digest: str) -> str:
    """The Message-ID, or "sha256:<raw hash>" when there is none (or it is absurdly long)."""
    if not message_id:
        return f"sha256:{digest}"
    if len(message_id) > 998:
        return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()
    return message_id


def header_block(raw: bytes) -> bytes:
    found = _HEADER_END.search(raw, 0, 1024 * 1024)
    return raw[: found.start()] if found else raw[: 64 * 1024]


def body_sha256(raw: bytes) -> str:
    """The body as sent; the same mail delivered to two mailboxes differs only in headers.
    (Hashed in place: a large mail is not copied.)"""
    found = _HEADER_END.search(raw)
    start = found.end() if found else len(raw)
    end = len(raw)
    while end > start and raw[end - 1 : end].isspace():
        end -= 1
    return hashlib.sha256(memoryview(raw)[start:end]).hexdigest()


def failure_text(exc: BaseException) -> str:
    """What went wrong, first line first (for lists), then where (for whoever fixes it)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    trace = "".join(traceback.format_exception(exc))
    return f"{type(exc).__name__}: {first}"[:1000] + "\n\n" + trace[-6000:]


# ---- the pool of parser processes ----------------------------------------------------------


def default_workers() -> int:
    """One parser process per core beyond the first (which does the database work), up to 4."""
    return max(0, min((os.cpu_count() or 1) - 1, 4))


def prepare_later(
    raws: Sequence[bytes], root: str, limit: int, workers: int
) -> Callable[[], list[PreparedMail]]:
    """Start preparing a batch in a parser process; the returned function waits for it.
    With `workers` 0, or a large mail in the batch, the work waits for that call and runs
    in this process; a worker's failure (a crash, a result that cannot travel back) is
    logged and the batch prepared here instead."""
    raws = list(raws)

    def here() -> list[PreparedMail]:
        return prepare_mails(raws, root, limit)

    if workers < 1 or any(len(raw) > INLINE_BYTES for raw in raws):
        return here
    try:
        future = _pool(workers).submit(prepare_mails, raws, root, limit)
    except Exception as exc:  # the pool is broken or shut down
        _discard_pool(exc)
        return here

    def result() -> list[PreparedMail]:
        try:
            return future.result()
        except OSError:
            raise  # the worker could not store a file: neither could we
        except Exception as exc:
            _discard_pool(exc)
            return here()

    return result


_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None


def _pool(workers: int) -> ProcessPoolExecutor:
    """One pool per process, shared by the poller's threads. Its processes are started
    fresh (spawn), not forked from a process that runs threads."""
    global _executor
    with _lock:
        if _executor is None:
            context = multiprocessing.get_context("spawn")
            _executor = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_watch_parent, initargs=(os.getpid(),)
            )
        return _executor


def _discard_pool(exc: BaseException) -> None:
    log.warning("a mail parser process failed (%s); parsing in the poller instead", exc)
    _end_pool(wait=False)


def shutdown() -> None:
    """Stop the parser processes (the poller's end)."""
    _end_pool(wait=True)


def _end_pool(wait: bool) -> None:
    """Stop the pool; the next batch starts a new one."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=wait, cancel_futures=True)


def _watch_parent(parent: int) -> None:
    """In a parser process: end when the poller is gone (killed, even with -9), instead of
    waiting forever for work that will not come."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
