"""Content-addressed file storage: attachments and raw mails, named by their sha256.

A plain directory tree that several processes (or machines, on a shared volume) can use at
once: writes go to a temporary file and are renamed into place, so readers never see half a
file, and two writers of the same content produce the same file.

A file is on disk (fsync) when save_blob returns, unless it is saved inside `synced_together()`:
then the files wait for one sync of them all (the mail poller's batches), which costs about
what one fsync costs instead of one per file.
"""

import contextlib
import ctypes
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from flask import current_app


def storage_root() -> Path:
    return Path(current_app.config["HELPDESK_STORAGE"])


def blob_path(sha256: str, root: Path | None = None) -> Path:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    root = root or storage_root()
    return root / sha256[:2] / sha256[2:4] / sha256


class PendingFiles:
    """Files written without their own fsync, made durable together by sync()."""

    def __init__(self) -> None:
        self.paths: list[Path] = []

    def sync(self) -> None:
        """Put every file saved so far (and its name in its folder) on disk; raises OSError."""
        paths = self.take()
        if paths:
            _sync_files(paths)

    def take(self) -> list[Path]:
        """The files saved so far, no longer this collection's to sync."""
        paths, self.paths = self.paths, []
        return paths

    def adopt(self, paths) -> None:
        """Sync these too (files another process saved unsynced, for us to record)."""
        self.paths.extend(Path(path) for path in paths)


_pending: ContextVar[PendingFiles | None] = ContextVar("storage_pending_files", default=None)


@contextlib.contextmanager
def synced_together() -> Iterator[PendingFiles]:
    """Blobs saved inside are not synced one by one: call sync() before recording them as
    stored (a database commit), and leaving the block normally syncs whatever is left."""
    with unsynced() as pending:
        yield pending
        pending.sync()


@contextlib.contextmanager
def unsynced() -> Iterator[PendingFiles]:
    """Blobs saved inside are neither synced one by one nor at the end: whoever takes their
    paths (PendingFiles.take) must have them synced before recording them (a parser process
    hands them to the poller, which syncs them with its batch)."""
    pending = PendingFiles()
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)


def save_blob(data: bytes, root: Path | None = None) -> str:
    """Store bytes; return their sha256. Storing the same bytes twice is a no-op."""
    digest = hashlib.sha256(data).hexdigest()
    path = blob_path(digest, root)
    pending = _pending.get()
    if path.exists():
        if pending is not None:
            pending.paths.append(path)  # another process may not have synced it yet
        return digest
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if pending is None:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if pending is not None:
        pending.paths.append(path)
    return digest


def read_blob(sha256: str, root: Path | None = None) -> bytes:
    return blob_path(sha256, root).read_bytes()


# ---- syncing many files at once ------------------------------------------------------------


def _syncfs():
    """Linux's syncfs(2), which writes out one whole file system, or None elsewhere."""
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None
    function.argtypes = [ctypes.c_int]
    return function


_SYNCFS = _syncfs()
FEW_FILES = 4


def _sync_files(paths: list[Path]) -> None:
    # A batch: one syncfs per file system holding it, a single journal commit where an fsync
    # per file costs one each (about 10x slower on a busy ext4 disk); it also covers files
    # another process wrote and has not synced yet, and the renames. A few files (one mail
    # from `flask mail ingest`): an fsync each, rather than writing out all the file system's
    # other dirty data as well.
    folders = {path.parent for path in paths}
    if _SYNCFS is not None and len(paths) > FEW_FILES:
        by_device = {os.stat(folder).st_dev: folder for folder in folders}
        for folder in by_device.values():
            fd = os.open(folder, os.O_RDONLY)
            try:
                if _SYNCFS(fd) != 0:
                    error = ctypes.get_errno()
                    raise OSError(error, f"syncfs failed: {os.strerror(error)}", str(folder))
            finally:
                os.close(fd)
        return
    for path in [*dict.fromkeys(paths), *folders]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
