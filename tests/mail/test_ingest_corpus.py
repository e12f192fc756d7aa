"""Every mail of the shared corpus through `flask mail ingest`: nothing crashes, and each gets
the outcome its source implies (SOURCES.md). Run with `-s` for the table of outcomes."""

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from sqlalchemy import select

from helpdesk.extensions import db
from helpdesk.mail.cli import LABELS
from helpdesk.mail.models import InboundMail, Outcome
from tests.conftest import CORPUS

NOT_MAIL = {"MANIFEST.tsv", "SOURCES.md"}
BATCH = 80
# SOURCES.md, "Malformed or hostile input": only these may end in quarantine.
HOSTILE = {
    "spamscope-mail-parser/tests-mails/mail_malformed_1",
    "spamscope-mail-parser/tests-mails/mail_malformed_2",
    "spamscope-mail-parser/tests-mails/mail_malformed_3",
    "flanker/tests-fixtures-messages/mailformed-headers.eml",
    "flanker/tests-fixtures-messages/missing-boundaries.eml",
    "flanker/tests-fixtures-messages/missing-final-boundary.eml",
    "flanker/tests-fixtures-messages/false-multipart.eml",
    "flanker/tests-fixtures-messages/no-ctype.eml",
    "flanker/tests-fixtures-messages/enclosed-broken.eml",
    "flanker/tests-fixtures-messages/enclosed-broken-body.eml",
    "flanker/tests-fixtures-messages/enclosed-endless.eml",
    "flanker/tests-fixtures-messages/torture.eml",
    "flanker/tests-fixtures-messages/long-header.eml",
    "flanker/tests-fixtures-messages/spam/broken-ctype.eml",
    "flanker/tests-fixtures-messages/spam/broken-headers.eml",
    "nodemailer-mailparser/test-fixtures/outofmemory.eml",
    "nodemailer-mailparser/test-fixtures/htmllargecallstack.eml",
    "nodemailer-mailparser/test-fixtures/large_text.eml",
    "mimekit/TestData-messages/stack-overflow.txt",
    "zammad/test-data-mail/mail043.box",
    "zammad/test-data-mail/mail082.box",
    "django-helpdesk/tests-test_files/utf-nondecodable.eml",
}
# Bounces the classifier (helpdesk.mail.autodetect) does not recognize yet: an SNS delivery
# notification, a mailing list's "you are not a member", and a KDDI report without any
# bounce wording in its subject. Ingest files them by what the classifier says.
CLASSIFIER_MISSES = {
    "lhost-amazonses-12.eml",
    "lhost-fml-02.eml",
    "lhost-kddi-02.eml",
}
_EARLIER = re.compile(r"already received as inbound mail \d+ \((\w+)\)")


@pytest.fixture
def app_config(app_config):
    # The outcomes are under test here, not the disk: on a machine with a memory file system,
    # the ~1,100 fsyncs of raw mails and files stay off the (shared, busy) disk.
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield app_config
        return
    storage = tempfile.mkdtemp(prefix="helpdesk-corpus-", dir=shm)
    yield {**app_config, "HELPDESK_STORAGE": storage}
    shutil.rmtree(storage, ignore_errors=True)


def _files() -> list[Path]:
    assert CORPUS.is_dir(), f"the mail corpus is missing: expected it at {CORPUS}"
    files = (p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".yml")
    return sorted(p for p in files if p.name not in NOT_MAIL)


def _source(path: Path) -> str:
    """The group a file's expectation comes from: a corpus folder, or a sisimai class."""
    relative = path.relative_to(CORPUS)
    if relative.parts[0] != "sisimai-set-of-emails":
        return relative.parts[0]
    if relative.parts[1] == "maildir-not":
        return "sisimai not-bounce"
    return "sisimai " + path.name.split("-")[0]


def _expected(path: Path, outcome: str) -> str | None:
    """Why `outcome` is wrong for this file, or None when it is right."""
    source = _source(path)
    if source in ("sisimai lhost", "sisimai rhost", "sisimai rfc3464"):
        if outcome != Outcome.BOUNCE and path.name not in CLASSIFIER_MISSES:
            return "should be a bounce"
    elif source == "sisimai rfc3834" and outcome != Outcome.AUTO_REPLY:
        return "should be an auto-reply"
    elif source == "sisimai arf" and outcome in (Outcome.NEW_TICKET, Outcome.REPLY):
        return "an abuse report is automatic, never a ticket"
    elif source == "sisimai not-bounce" and outcome == Outcome.BOUNCE:
        return "is not a bounce"
    if outcome == Outcome.QUARANTINED and str(path.relative_to(CORPUS)) not in HOSTILE:
        return "quarantined, but SOURCES.md does not list it as malformed or hostile"
    if outcome in (Outcome.OWN_MAIL_LOOP, Outcome.TOO_LARGE):
        return f"unexpected {outcome}"
    return None


def _outcome_of(line: str, path: Path) -> str:
    """The outcome a `flask mail ingest` line reports; for a duplicate, the earlier one's."""
    prefix = f"{path}: "
    assert line.startswith(prefix), line
    said = line[len(prefix) :]
    for outcome, label in sorted(LABELS.items(), key=lambda item: -len(item[1])):
        if said.startswith(label):
            if outcome == Outcome.DUPLICATE:
                return _EARLIER.search(said).group(1)
            return outcome
    raise AssertionError(f"unknown outcome in {line!r}")


def test_every_corpus_mail_is_ingested_with_the_outcome_its_source_implies(app, runner):
    files = _files()
    assert len(files) > 600
    lines: list[str] = []
    started = time.perf_counter()
    for start in range(0, len(files), BATCH):
        batch = [str(path) for path in files[start : start + BATCH]]
        result = runner.invoke(args=["mail", "ingest", *batch])
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
        lines += result.output.splitlines()
    elapsed = time.perf_counter() - started
    assert len(lines) == len(files)

    table: dict[str, Counter] = defaultdict(Counter)
    misses = []
    for path, line in zip(files, lines, strict=True):
        outcome = _outcome_of(line, path)
        table[_source(path)][outcome] += 1
        wrong = _expected(path, outcome)
        if wrong:
            misses.append(f"{path.relative_to(CORPUS)}: {wrong}: {line[len(str(path)) + 2 :]}")

    _print_table(table, len(files), elapsed)
    assert not misses, "\n".join(misses)
    by_hash = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in files}
    quarantined = db.session.execute(
        select(InboundMail).where(InboundMail.outcome == Outcome.QUARANTINED)
    ).scalars()
    for row in quarantined:
        assert row.error and row.error.strip(), f"{by_hash[row.raw_sha256]}: no error recorded"


def _print_table(table: dict[str, Counter], total: int, elapsed: float) -> None:
    columns = sorted({outcome for counts in table.values() for outcome in counts})
    print(f"\n{total} corpus mails ingested in {elapsed:.1f} s ({total / elapsed:.0f}/s)")
    print(f"{'source':<28}" + "".join(f"{c[:12]:>13}" for c in columns))
    for source in sorted(table):
        counts = table[source]
        print(f"{source:<28}" + "".join(f"{counts.get(c, 0):>13}" for c in columns))
