"""The poller under faults: the connection cut (between commands and in the middle of a FETCH)
and restored, and the poller process killed with SIGKILL again and again during a run of
hundreds of mails. Nothing is lost and nothing is duplicated."""

import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from helpdesk.extensions import db
from helpdesk.mail.mailboxes import Mailbox
from helpdesk.mail.models import InboundMail
from helpdesk.tickets.models import Ticket
from tests.mail.tcp_proxy import TcpProxy
from tests.mail.test_poller import (
    BackgroundPoller,
    count,
    deliver,
    dovecot_with_accounts,
    folder_state,
    make_mail,
    new_account,
    register,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
KEYS = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def imap():
    with dovecot_with_accounts() as server:
        yield server


@pytest.fixture
def quick_retries(app_config):
    app_config.update(
        HELPDESK_MAIL_RETRY_SECONDS=0.05,
        HELPDESK_MAIL_RETRY_MAX_SECONDS=0.5,
        HELPDESK_MAIL_TIMEOUT_SECONDS=10,
        HELPDESK_ENCRYPTION_KEYS=KEYS,
    )
    return app_config


def _failures() -> int:
    db.session.rollback()
    return db.session.execute(select(Mailbox.consecutive_failures)).scalar_one()


def _assert_each_mail_once(expected_subjects: set[str]) -> None:
    db.session.rollback()
    subjects = list(db.session.execute(select(Ticket.subject)).scalars())
    assert len(subjects) == len(expected_subjects), "a mail became two tickets, or none"
    assert set(subjects) == expected_subjects
    rows = db.session.execute(select(func.count()).select_from(InboundMail)).scalar_one()
    assert rows == len(expected_subjects)


def test_poller_carries_on_after_the_connection_is_cut_and_restored(
    quick_retries, app, imap, caplog
):
    caplog.set_level(logging.INFO, logger="helpdesk.mail.poller")
    user = new_account(imap)
    with TcpProxy(imap.port) as proxy:
        register(user, proxy.port)
        with BackgroundPoller(app, ["support"]):
            deliver(imap, user, make_mail(1, subject="Before the cut"))
            wait_for(lambda: count(Ticket) == 1, 30, "the first ticket")

            proxy.cut()  # the poller is in IDLE: its connection drops, reconnects are refused
            wait_for(lambda: _failures() >= 2, 30, "failed reconnects")
            deliver(imap, user, make_mail(2, subject="During the cut"))
            proxy.restore()

            wait_for(lambda: count(Ticket) == 2, 30, "the ticket of the mail sent meanwhile")
            wait_for(lambda: _failures() == 0, 30, "the failure count to reset")

    _assert_each_mail_once({"Before the cut", "During the cut"})
    assert folder_state(imap, user) == {"messages": 2, "seen": 2}
    assert "support: connection lost" in caplog.text or "support: IMAP error" in caplog.text
    assert "trying again in" in caplog.text and "working again after" in caplog.text


@pytest.fixture
def small_batches(quick_retries):
    quick_retries["HELPDESK_MAIL_BATCH"] = 4


def test_a_cut_in_the_middle_of_a_fetch_loses_and_duplicates_nothing(small_batches, app, imap):
    user = new_account(imap)
    padding = "Lorem ipsum dolor sit amet. " * 700  # about 20 kB a mail
    subjects = {f"Large request {n}" for n in range(12)}
    deliver(imap, user, *(make_mail(n, subject=s, body=padding) for n, s in enumerate(subjects)))
    with TcpProxy(imap.port) as proxy:
        register(user, proxy.port)
        proxy.cut_after(120_000)  # inside the second batch's FETCH
        with BackgroundPoller(app, ["support"]):
            wait_for(lambda: proxy.is_cut and _failures() >= 1, 30, "the cut")
            assert 0 < count(InboundMail) < len(subjects)
            proxy.restore()
            wait_for(lambda: folder_state(imap, user)["seen"] == len(subjects), 60, "all mail")

    _assert_each_mail_once(subjects)


# --- kill -9 -----------------------------------------------------------------------------------

MAILS = 300
BATCH = 20  # mails per transaction: the kills fall inside batches and between them
READY = "Polling (Ctrl-C or SIGTERM stops)"  # printed once the SIGTERM handler is in place
DEADLINE = 300  # seconds for the whole test, whatever happens


def _start_poller(app, log: Path) -> subprocess.Popen:
    config = app.config
    env = {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "HELPDESK_STORAGE": config["HELPDESK_STORAGE"],
        "SECRET_KEY": config["SECRET_KEY"],
        "HELPDESK_ENCRYPTION_KEYS": config["HELPDESK_ENCRYPTION_KEYS"],
        "HELPDESK_SUPPORT_ADDRESS": "support@example.test",
        "LOG_LEVEL": "INFO",
        "HELPDESK_MAIL_BATCH": str(BATCH),
    }
    env.pop("REDIS_URL", None)
    env.pop("MAIL_SERVER", None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "poll"]
    with open(log, "ab") as out:
        return subprocess.Popen(
            [*flask, "--mailbox", "support"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen, sig=signal.SIGKILL) -> int:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
    return proc.wait(30)


def test_killing_the_poller_again_and_again_loses_and_duplicates_nothing(
    quick_retries, app, imap, tmp_path
):
    started = time.monotonic()
    rng = random.Random()
    seed = rng.randrange(10**6)
    rng.seed(seed)
    user = new_account(imap)
    subjects = {f"Kill test mail {n:03d}" for n in range(MAILS)}
    deliver(imap, user, *(make_mail(n, subject=s) for n, s in enumerate(sorted(subjects))))
    register(user, imap.port, processed="Processed")
    kills = sorted(rng.sample(range(10, MAILS - 10), rng.randint(3, 5)))
    log = tmp_path / "poller.log"
    print(f"seed {seed}: SIGKILL after {kills} mails; log {log}")
    proc = None

    try:
        for threshold in kills:
            proc = _start_poller(app, log)
            left = DEADLINE - (time.monotonic() - started)
            wait_for(
                lambda: count(InboundMail) >= threshold or proc.poll() is not None,  # noqa: B023
                left,
                f"{threshold} mails ingested",
            )
            assert proc.poll() is None, f"the poller died by itself; see {log}"
            assert _stop(proc) == -signal.SIGKILL
        ready = log.read_text().count(READY)  # a poller killed while starting never got there
        proc = _start_poller(app, log)
        left = DEADLINE - (time.monotonic() - started)
        wait_for(
            lambda: log.read_text().count(READY) > ready or proc.poll() is not None,
            left,
            "the last poller ready",
        )
        wait_for(
            lambda: (
                folder_state(imap, user, "Processed")["messages"] == MAILS
                or proc.poll() is not None
            ),
            left,
            "all",
        )
        assert proc.poll() is None, f"the poller died by itself; see {log}"
        assert _stop(proc, signal.SIGTERM) == 0, f"no clean exit on SIGTERM; see {log}"
    finally:
        if proc is not None and proc.poll() is None:
            _stop(proc)

    _assert_each_mail_once(subjects)
    assert folder_state(imap, user) == {"messages": 0, "seen": 0}
    assert folder_state(imap, user, "Processed") == {"messages": MAILS, "seen": MAILS}
    assert "support: " in log.read_text()  # the final summary line
