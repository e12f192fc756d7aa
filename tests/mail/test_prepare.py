"""Storing and parsing in parser processes: the same result as in the poller's own process,
the poller's own process taking over when a parser process dies, and parser processes that
end with the poller, even when it is killed with -9."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpdesk import storage
from helpdesk.mail import prepare
from helpdesk.mail.autodetect import MailKind
from tests.conftest import CORPUS

LIMIT = 25 * 1024 * 1024


def _mails() -> list[bytes]:
    names = sorted((CORPUS / "zammad" / "test-data-mail").glob("*.box"))[:12]
    assert names, f"no Zammad mails under {CORPUS}"
    bounce = CORPUS / "sisimai-set-of-emails" / "maildir-bsd" / "rfc3464-26.eml"
    broken = b"From: \xff\xfe\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n--\r\n"
    return [path.read_bytes() for path in names] + [bounce.read_bytes(), broken]


@pytest.fixture(autouse=True)
def fresh_pool():
    prepare.shutdown()
    yield
    prepare.shutdown()


def _without_paths(items):
    return [(i.digest, i.identity, i.headers, i.mail, i.classification, i.failure) for i in items]


def test_a_parser_process_stores_and_parses_as_the_poller_would(tmp_path):
    mails = _mails()

    here = prepare.prepare_mails(mails, str(tmp_path / "here"), LIMIT)
    there = prepare.prepare_later(mails, str(tmp_path / "there"), LIMIT, workers=1)()

    assert _without_paths(there) == _without_paths(here)
    assert [item.mail.subject for item in there[:3]] == [item.mail.subject for item in here[:3]]
    assert there[-2].classification.kind is MailKind.BOUNCE
    for item, raw in zip(there, mails, strict=True):
        # Each mail is stored (not yet synced): its path is handed back to be synced.
        assert storage.read_blob(item.digest, tmp_path / "there") == raw
        assert str(storage.blob_path(item.digest, tmp_path / "there")) in item.paths


def test_when_a_parser_process_dies_the_poller_parses_the_batch_itself(tmp_path, caplog):
    mails = _mails()[:3]
    prepare.prepare_later(mails, str(tmp_path), LIMIT, workers=1)()  # the pool is running
    for pid in list(prepare._executor._processes):
        os.kill(pid, signal.SIGKILL)  # fault injection: a parser process crashes

    prepared = prepare.prepare_later(mails, str(tmp_path), LIMIT, workers=1)()

    assert [item.mail.subject for item in prepared] == [
        item.mail.subject for item in prepare.prepare_mails(mails, str(tmp_path), LIMIT)
    ]
    assert "a mail parser process failed" in caplog.text
    # And the next batch gets a new parser process.
    again = prepare.prepare_later(mails, str(tmp_path), LIMIT, workers=1)()
    assert len(again) == 3 and prepare._executor is not None


def test_a_batch_with_a_large_mail_is_parsed_in_the_poller(tmp_path):
    large = b"Subject: big\r\n\r\n" + b"x" * (prepare.INLINE_BYTES + 1)

    [item] = prepare.prepare_later([large], str(tmp_path), LIMIT, workers=1)()

    assert item.mail.subject == "big" and prepare._executor is None  # no process started


_ORPHAN = """
import sys, time
from helpdesk.mail import prepare
prepare.prepare_later([b"Subject: hi\\r\\n\\r\\nhello"], sys.argv[1], 10**6, workers=1)()
print(*prepare._executor._processes, flush=True)
time.sleep(60)
"""


def test_parser_processes_end_when_the_poller_is_killed(tmp_path):
    poller = subprocess.Popen(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", _ORPHAN, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        workers = [int(pid) for pid in poller.stdout.readline().split()]
        assert workers
    finally:
        poller.kill()  # SIGKILL: no clean-up code runs in it
        poller.wait(10)
        poller.stdout.close()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; its (dead) parent would have reaped it
