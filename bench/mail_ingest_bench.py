"""Mail from a real IMAP server to committed tickets: how fast, and how much memory.

    .venv/bin/python bench/mail_ingest_bench.py                # 1,000 mails and a 20 MB one
    .venv/bin/python bench/mail_ingest_bench.py --runs 5       # the median of 5 polls
    .venv/bin/python bench/mail_ingest_bench.py --mails 300 --big-mb 0 --statements 0
    .venv/bin/python bench/mail_ingest_bench.py --profile      # where the poller's time goes
    .venv/bin/python bench/mail_ingest_bench.py --dir /dev/shm # without the cost of disk syncs
    .venv/bin/python bench/mail_ingest_bench.py --in-process   # ingest_batch alone, no IMAP
    .venv/bin/python bench/mail_ingest_bench.py --in-process --prepared  # its database work

What it does, on a private Dovecot and a fresh SQLite database (tests/servers.py):
  1. `--mails` realistic support mails (bench/mail_parse_bench.realistic_mail: plain and
     Outlook-style HTML, quoted history, signatures, PDF attachments, a few auto-replies and
     bounces), about a third rewritten as replies to earlier ones (In-Reply-To/References),
     are APPENDed to the account's INBOX.
  2. `flask db upgrade heads`, `flask mailbox add`, then `flask mail poll --once` runs as a
     subprocess: mails/s from its start to its summary line (every mail committed), less the
     start-up (the same command on an empty mailbox). With more than one core it stores and
     parses each batch in a parser process while it writes the one before
     (HELPDESK_MAIL_PARSERS; 0 times a single process). The process exits later, once its
     in-process outbox has sent the acknowledgements (a worker does that when REDIS_URL is
     set); that time is shown too. With `--runs`, steps 1-2 are repeated (a fresh account and
     database each time) and the median is printed.
  3. The parser alone (parse_message + classify, as ingest does) on the same mails, here,
     and the ratio of the two (after each run).
  4. Peak memory: `flask mail poll --once` on a mailbox holding one `--big-mb` MB message,
     beside the same command on an empty mailbox (peak RSS by getrusage, see measured()).
  5. SQL statements per mail: `--statements` of the mails ingested in this process, in the
     poller's batches, with a counter on the engine.
`--in-process` times ingest_batch alone (no IMAP, no outbox sending, no parser process) over
the same mails in the poller's batches of 50 (`--prepared`: stored and parsed beforehand, so
only what the poller's own process does beside its parser processes is timed), into a fresh
SQLite file each run (`--runs`, each in a process of its own), with statements and flushes
per mail, and prints the median; with `--profile`, one run under cProfile instead.
The load average is printed before and after, and beside each figure (`load` = the 1, 5
and 15 minute averages when it was taken): on a shared machine it moves every figure.
Targets (issue #5): >= 250 mails/s end to end on SQLite, within 3x of parsing alone; peak
RSS under 250 MB with a 20 MB message.
"""

import argparse
import base64
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from cryptography.fernet import Fernet  # noqa: E402
from imapclient import IMAPClient  # noqa: E402
from mail_parse_bench import realistic_mail  # noqa: E402

from helpdesk.mail.autodetect import classify  # noqa: E402
from helpdesk.mail.parse import parse_message  # noqa: E402
from tests import servers  # noqa: E402

PASSWORD = "bench-secret"  # noqa: S105 (a throwaway test account)
_IN_REPLY_TO = re.compile(rb"^In-Reply-To: [^\n]*\n", re.MULTILINE)
_MESSAGE_ID = re.compile(rb"^Message-ID: ([^\n]*)\n", re.MULTILINE)
_REPORT_PEAK = (  # run argv; then print its peak RSS in kB as the last line on stderr
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def bench_mails(count: int, seed: int = 5) -> list[bytes]:
    """Realistic mails; about one in three answers an earlier one of the set."""
    rng = random.Random(seed)
    mails, ids = [], []
    for index in range(count):
        raw = _IN_REPLY_TO.sub(b"", realistic_mail(rng, index), count=1)
        ids.append(_MESSAGE_ID.search(raw).group(1).strip())
        if index >= 10 and rng.random() < 0.33:
            parent = ids[rng.randrange(index)]
            raw = raw.replace(
                b"MIME-Version:",
                b"In-Reply-To: " + parent + b"\nReferences: " + parent + b"\nMIME-Version:",
                1,
            )
        mails.append(raw)
    return mails


def big_mail(megabytes: float) -> bytes:
    """One mail of about `megabytes` MB: a short text and a large base64 attachment."""
    data = os.urandom(int(megabytes * 1024 * 1024 * 3 / 4))
    encoded = base64.encodebytes(data)
    return (
        b"From: Big Sender <big@example.org>\nTo: support@example.com\n"
        b"Subject: Scans of every page\nMessage-ID: <big.1@example.org>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b1"\n\n--b1\n'
        b"Content-Type: text/plain; charset=utf-8\n\nThe scans you asked for.\n--b1\n"
        b'Content-Type: application/pdf; name="scans.pdf"\nContent-Transfer-Encoding: base64\n'
        b'Content-Disposition: attachment; filename="scans.pdf"\n\n' + encoded + b"--b1--\n"
    )


def append(imap, user: str, mails: list[bytes]) -> float:
    started = time.perf_counter()
    with IMAPClient(imap.host, port=imap.port, ssl=False, timeout=120) as client:
        client.login(user, PASSWORD)
        for raw in mails:
            client.append("INBOX", raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return time.perf_counter() - started


class Helpdesk:
    """`flask …` commands against a fresh SQLite database in a temporary folder."""

    def __init__(self, folder: str):
        os.makedirs(folder, exist_ok=True)
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "HELPDESK_STORAGE": f"{folder}/storage",
            "SECRET_KEY": "bench-secret-key",
            "HELPDESK_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "HELPDESK_SUPPORT_ADDRESS": "support@example.com",
            "LOG_LEVEL": "WARNING",
        }
        for name in ("REDIS_URL", "MAIL_SERVER"):
            self.env.pop(name, None)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "flask", "--app", "wsgi", *args]

    def run(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(  # noqa: S603 (our own flask command)
            self.argv(*args), cwd=ROOT, env=self.env, input=stdin, text=True,
            capture_output=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout.strip()

    def measured(self, *args: str) -> tuple[float, float, int, str]:
        """(wall seconds to the first line of output, to the exit, peak RSS in MB, output).

        `flask mail poll --once` prints its summary when every mail is committed; the process
        then waits for the in-process outbox runners (acknowledgements and other mail that a
        worker sends when REDIS_URL is set) before it exits.

        It runs under a small Python process that reports its child's peak RSS: a child
        started straight from this process would count this process's memory as its own
        (ru_maxrss includes what the parent had resident when it forked)."""
        started = time.perf_counter()
        proc = subprocess.Popen(  # noqa: S603 (our own flask command)
            [sys.executable, "-c", _REPORT_PEAK, *self.argv(*args)], cwd=ROOT, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        first = proc.stdout.readline()
        first_at = time.perf_counter() - started
        rest, stderr = proc.communicate()
        wall = time.perf_counter() - started
        *errors, peak_kb = stderr.strip().splitlines() or ["0"]
        output = (first + rest).strip()
        if proc.returncode != 0:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{output}{chr(10).join(errors)}")
        return first_at, wall, int(peak_kb) // 1024, output

    def add_mailbox(self, name: str, user: str, port: int) -> None:
        url = f"imap://{user.replace('@', '%40')}@127.0.0.1:{port}/INBOX"
        self.run(
            "mailbox", "add", "--name", name, "--imap-url", url, "--address",
            "support@example.com", "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip


def parse_alone(mails: list[bytes]) -> float:
    for raw in mails[:50]:  # warm-up
        classify(parse_message(raw))
    started = time.perf_counter()
    for raw in mails:
        classify(parse_message(raw))
    return time.perf_counter() - started


def profile_poll(helpdesk: Helpdesk, name: str) -> None:
    """Run the poll in this process under cProfile and print where the time goes."""
    import cProfile
    import pstats

    os.environ.update(helpdesk.env)
    from helpdesk import create_app
    from helpdesk.mail.mailboxes import find_mailbox
    from helpdesk.mail.poller import MailboxPoller

    app = create_app()
    with app.app_context():
        poller = MailboxPoller(app, find_mailbox(name), threading.Event(), once=True)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    poller.run()  # in this thread: cProfile sees only the thread that enabled it
    profiler.disable()
    print(f"{sum(poller.counts.values())} mails in {time.perf_counter() - started:.1f} s")
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats(45)
    stats.sort_stats("tottime").print_stats(25)


def count_statements(folder: str, mails: list[bytes]) -> None:
    """SQL statements per mail, ingested here in the poller's batches (last: this process
    becomes an app process). The outbox's own work is left out: a worker does it."""
    from sqlalchemy import event

    helpdesk = Helpdesk(folder)
    helpdesk.run("db", "upgrade", "heads")
    os.environ.update(helpdesk.env)
    from helpdesk import create_app
    from helpdesk.extensions import db
    from helpdesk.mail.ingest import Arrival, ingest_batch

    app = create_app({"OUTBOX_DISPATCH": "none"})
    statements = 0

    def counted(*_args) -> None:
        nonlocal statements
        statements += 1

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", counted)
        for start in range(0, len(mails), 50):
            batch = mails[start : start + 50]
            ingest_batch([Arrival(raw, 1, 1, start + n) for n, raw in enumerate(batch)])
    print(
        f"SQL statements: {statements / len(mails):.1f} per mail (over {len(mails)} mails; "
        f"load {_load()})"
    )


def ingest_in_process(
    folder: str, mails: list[bytes], profile: bool = False, prepared: bool = False
) -> dict:
    """One run of `--in-process`: ingest_batch over `mails`, here, into a fresh database;
    with `prepared`, the mails are stored and parsed before the clock starts (as a parser
    process does for the poller), so only the database work is timed."""
    from sqlalchemy import event

    helpdesk = Helpdesk(folder)
    helpdesk.run("db", "upgrade", "heads")
    os.environ.update(helpdesk.env)
    from helpdesk import create_app, storage
    from helpdesk.extensions import db
    from helpdesk.mail.ingest import Arrival, ingest_batch, max_mail_size
    from helpdesk.mail.prepare import prepare_mails

    app = create_app({"OUTBOX_DISPATCH": "none"})
    counts = {"statements": 0, "flushes": 0}

    def counted(*_args) -> None:
        counts["statements"] += 1

    def flushed(*_args) -> None:
        counts["flushes"] += 1

    batches = [
        [Arrival(raw, 1, 1, start + n + 1) for n, raw in enumerate(mails[start : start + 50])]
        for start in range(0, len(mails), 50)
    ]
    with app.app_context():
        parsed = [
            prepare_mails([a.raw for a in batch], str(storage.storage_root()), max_mail_size())
            if prepared
            else None
            for batch in batches
        ]
        event.listen(db.engine, "before_cursor_execute", counted)
        event.listen(db.session, "before_flush", flushed)
        counts["statements"] = 0
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        for batch, ready in zip(batches, parsed, strict=True):
            ingest_batch(batch, (), ready)
        seconds = time.perf_counter() - started
        if profiler is not None:
            import pstats

            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats("cumulative")
            stats.print_stats(60)
            stats.sort_stats("tottime").print_stats(30)
    return {"seconds": seconds, **counts}


def in_process(mails: list[bytes], runs: int, folder: str, profile: bool, prepared: bool) -> None:
    """`--in-process`: each run in a fresh process and database; the median run."""
    import json

    print(f"load average before: {_load()}")
    results = []
    for run in range(1 if profile else runs):
        argv = [sys.executable, __file__, "--one-run", f"{folder}/run{run}"]
        argv += ["--mails", str(len(mails))] + (["--profile"] if profile else [])
        argv += ["--prepared"] if prepared else []
        done = subprocess.run(argv, capture_output=True, text=True, check=True)  # noqa: S603
        *lines, last = done.stdout.strip().splitlines()
        if profile:
            print("\n".join(lines))
        results.append(json.loads(last))
        r = results[-1]
        print(
            f"run {run + 1}: {r['seconds']:.2f} s, {len(mails) / r['seconds']:.0f} mails/s "
            f"(load {_load()})"
        )
    seconds = statistics.median(r["seconds"] for r in results)
    parse = parse_alone(mails)
    r = results[0]
    what = "ingest_batch, database work only" if prepared else "ingest_batch"
    print(
        f"{what}, median of {len(results)}: {seconds:.2f} s, {len(mails) / seconds:.0f} "
        f"mails/s, {1000 * seconds / len(mails):.1f} ms per mail; "
        f"{r['statements'] / len(mails):.1f} statements and {r['flushes'] / len(mails):.1f} "
        f"flushes per mail"
    )
    print(
        f"parser alone: {parse:.2f} s, {len(mails) / parse:.0f} mails/s; ratio "
        f"{seconds / parse:.1f}x (load {_load()})"
    )


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def measure_big_mail(imap, megabytes: float, folder: str) -> None:
    """Peak RSS of `flask mail poll --once` on one large message, in a database of its own
    (the first database has hundreds of acknowledgements queued, which any app process
    that starts may pick up and send)."""
    helpdesk = Helpdesk(f"{folder}/big")
    helpdesk.run("db", "upgrade", "heads")
    for name in ("big", "empty"):
        helpdesk.add_mailbox(name, f"{name}@example.com", imap.port)
    *_, empty_rss, _output = helpdesk.measured("mail", "poll", "--once", "--mailbox", "empty")
    raw = big_mail(megabytes)
    append(imap, "big@example.com", [raw])
    _done, wall, rss, output = helpdesk.measured("mail", "poll", "--once", "--mailbox", "big")
    print(
        f"one {len(raw) / 1e6:.1f} MB message: peak RSS {rss} MB (the same command on an "
        f"empty mailbox: {empty_rss} MB), {wall:.1f} s (load {_load()}); output: {output}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--big-mb", type=float, default=20.0, help="0 skips the memory test")
    parser.add_argument("--profile", action="store_true", help="profile the poll in-process")
    parser.add_argument(
        "--statements", type=int, default=200, help="count SQL statements over this many mails"
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="where the database and stored mail go (default: a new folder under the system's "
        "temporary folder); /dev/shm shows the figures without the cost of disk syncs",
    )
    parser.add_argument("--in-process", action="store_true", help="time ingest_batch alone")
    parser.add_argument(
        "--runs", type=int, default=None, help="runs, each afresh (default: 1, in-process 5)"
    )
    parser.add_argument(
        "--prepared",
        action="store_true",
        help="with --in-process: store and parse before timing (a parser process's share)",
    )
    parser.add_argument("--one-run", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_run:
        import json

        mails = bench_mails(args.mails)
        result = ingest_in_process(args.one_run, mails, args.profile, args.prepared)
        print(json.dumps(result))
        return

    folder = tempfile.mkdtemp(prefix="helpdesk-bench-", dir=args.dir)
    runs = 1 if args.profile or args.runs is None else args.runs
    users = {f"bench{run}@example.com": PASSWORD for run in range(runs)}
    users |= {"empty@example.com": PASSWORD, "big@example.com": PASSWORD}
    try:
        if args.in_process:
            mails = bench_mails(args.mails)
            in_process(mails, args.runs or 5, folder, args.profile, args.prepared)
            return
        with servers.dovecot_server(users) as imap:
            mails = bench_mails(args.mails)
            size = sum(map(len, mails)) / 1e6
            replies = sum(b"\nReferences: " in raw for raw in mails)
            with_files = sum(b"Content-Disposition: attachment" in raw for raw in mails)
            print(
                f"data: {len(mails)} mails, {size:.1f} MB ({replies} replies to earlier mails, "
                f"{with_files} with a PDF attachment, auto-replies and bounces among them)"
            )
            if args.profile:
                helpdesk = Helpdesk(f"{folder}/profile")
                append(imap, "bench0@example.com", mails)
                helpdesk.run("db", "upgrade", "heads")
                helpdesk.add_mailbox("bench", "bench0@example.com", imap.port)
                profile_poll(helpdesk, "bench")
                return
            print(f"load average before: {_load()}")
            rates, ratios = [], []
            for run in range(runs):
                # A fresh database and a fresh account holding the same mails, each run.
                helpdesk = Helpdesk(f"{folder}/run{run}")
                append(imap, f"bench{run}@example.com", mails)
                helpdesk.run("db", "upgrade", "heads")
                helpdesk.add_mailbox("bench", f"bench{run}@example.com", imap.port)
                helpdesk.add_mailbox("empty", "empty@example.com", imap.port)
                empty, *_ = helpdesk.measured("mail", "poll", "--once", "--mailbox", "empty")
                done, wall, rss, output = helpdesk.measured(
                    "mail", "poll", "--once", "--mailbox", "bench"
                )
                end_to_end_load = _load()
                parse = parse_alone(mails)
                rates.append(len(mails) / (done - empty))
                ratios.append((done - empty) / parse)
                print(f"run {run + 1}, poll output: {output}")
                print(
                    f"  end to end (`flask mail poll --once`, Dovecot to committed tickets, "
                    f"without the {empty:.2f} s start-up): {done - empty:.2f} s, "
                    f"{rates[-1]:.0f} mails/s; the process exited after {wall:.2f} s, once its "
                    f"in-process outbox had sent the acknowledgements (peak RSS {rss} MB; load "
                    f"{end_to_end_load})"
                )
                print(
                    f"  parser alone (parse_message + classify), same mails: {parse:.2f} s, "
                    f"{len(mails) / parse:.0f} mails/s; end to end takes {ratios[-1]:.1f}x as "
                    f"long (load {_load()})"
                )
            print(
                f"end to end, median of {runs}: {statistics.median(rates):.0f} mails/s "
                f"({min(rates):.0f}-{max(rates):.0f}); ratio to parsing alone: "
                f"{statistics.median(ratios):.1f}x ({min(ratios):.1f}x-{max(ratios):.1f}x) "
                f"(targets: 250 mails/s, 3x or less)"
            )
            print(f"load average after: {_load()}")
            if args.big_mb:
                measure_big_mail(imap, args.big_mb, folder)
            if args.statements:
                count_statements(f"{folder}/count", mails[: args.statements])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
