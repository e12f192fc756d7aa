"""Content-addressed file storage: attachments and raw mails, named by their sha256.

A plain directory tree that several processes (or machines, on a shared volume) can use at
once: writes go to a temporary file and are renamed into place, so readers never see half a
file, and two writers of the same content produce the same file.
"""

import hashlib
import os
import tempfile
from pathlib import Path

from flask import current_app


def storage_root() -> Path:
    return Path(current_app.config["HELPDESK_STORAGE"])


def blob_path(sha256: str, root: Path | None = None) -> Path:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    root = root or storage_root()
    return root / sha256[:2] / sha256[2:4] / sha256


def save_blob(data: bytes, root: Path | None = None) -> str:
    """Store bytes; return their sha256. Storing the same bytes twice is a no-op."""
    digest = hashlib.sha256(data).hexdigest()
    path = blob_path(digest, root)
    if path.exists():
        return digest
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return digest


def read_blob(sha256: str, root: Path | None = None) -> bytes:
    return blob_path(sha256, root).read_bytes()
