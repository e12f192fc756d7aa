"""Time `flask seed --tickets N` on a fresh, migrated database and print what it made.

    .venv/bin/python bench/seed_bench.py                  # 100,000 tickets on SQLite
    .venv/bin/python bench/seed_bench.py --postgres       # on a private PostgreSQL server
    .venv/bin/python bench/seed_bench.py --tickets 1000000 --postgres

Only the seed command is timed (not the migrations); it runs as its own process, the way an
operator runs it, with production password hashing.
"""

import argparse
import contextlib
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, func, inspect, select, table

ROOT = Path(__file__).resolve().parents[1]


def flask(env: dict, *args: str) -> None:
    subprocess.run(  # noqa: S603  (our own interpreter and arguments)
        [sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True
    )


def row_counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        names = sorted(inspect(conn).get_table_names())
        counts = {
            n: conn.execute(select(func.count()).select_from(table(n))).scalar() for n in names
        }
        version = conn.exec_driver_sql(
            "select sqlite_version()" if url.startswith("sqlite") else "show server_version"
        ).scalar()
    engine.dispose()
    counts["_version"] = version
    return counts


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(pid: int | None) -> float:
    """CPU seconds of the database server and its finished backends (0 for SQLite)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime..cstime


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {memory:.0f} GiB RAM, {platform.system()}"
        f" {platform.release()}, Python {platform.python_version()}"
    )


@contextlib.contextmanager
def database(use_postgres: bool, folder: Path):
    """The database URL, and the server's process id (None for SQLite: it runs in the seed)."""
    if not use_postgres:
        yield f"sqlite:///{folder / 'bench.sqlite3'}", None
        return
    sys.path.insert(0, str(ROOT))
    from tests.servers import postgres_server

    with postgres_server() as pg:
        yield pg.url, int(Path(pg.dir, "data", "postmaster.pid").read_text().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="a private PostgreSQL server")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="seed-bench-") as tmp,
        database(args.postgres, Path(tmp)) as (url, server_pid),
    ):
        env = dict(
            os.environ,
            DATABASE_URL=url,
            SECRET_KEY=secrets.token_hex(32),
            HELPDESK_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
            HELPDESK_STORAGE=str(Path(tmp) / "storage"),
            REDIS_URL="",
            LOG_LEVEL="WARNING",
        )
        flask(env, "db", "upgrade", "heads")  # "heads": every branch, while there are several
        load_before, server_before = os.getloadavg()[0], _server_cpu(server_pid)
        started, cpu_before = time.perf_counter(), _child_cpu()
        flask(env, "seed", "--tickets", str(args.tickets))
        wall, cpu = time.perf_counter() - started, _child_cpu() - cpu_before
        server_cpu = _server_cpu(server_pid) - server_before
        load_after = os.getloadavg()[0]
        counts = row_counts(url)
    version = counts.pop("_version")
    engine = "PostgreSQL" if args.postgres else "SQLite"
    print(f"\n{args.tickets:,} tickets on {engine} {version}: {wall:.1f} s wall time")
    # On a busy machine wall time varies; the CPU times vary less.
    server = f"; database server CPU time: {server_cpu:.1f} s" if args.postgres else ""
    print(f"seed process CPU time: {cpu:.1f} s{server}")
    print(f"load average (1 min) at the start: {load_before:.1f}, at the end: {load_after:.1f}")
    # The full-text search tables are derived from the rows above: listed, not added up.
    rows = {n: c for n, c in counts.items() if c and not n.startswith(("fts_", "alembic"))}
    print(f"rows created: {sum(rows.values()):,} in all")
    for name, count in counts.items():
        if count and not name.startswith("alembic"):
            derived = "" if name in rows else "  (search index)"
            print(f"  {name:<22}{count:>12,}{derived}")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
