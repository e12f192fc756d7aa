"""Private, throwaway service instances for tests and benchmarks.

Each context manager starts its own server on a free 127.0.0.1 port in a fresh folder under /tmp,
yields a small object describing it, and on exit stops only the processes it started and removes
the folder. Nothing here touches the system daemons apt may have started on the default ports.

    with postgres_server() as pg, redis_server() as rds, smtp_server() as smtp:
        app = create_app({"DATABASE_URL": pg.url, "REDIS_URL": rds.url, "MAIL_PORT": smtp.port})

    with dovecot_server({"support@example.test": "secret"}) as imap:
        IMAPClient(imap.host, port=imap.port, ssl=False).login("support@example.test", "secret")

A missing binary raises RuntimeError in one line naming the Debian package (see
scripts/install-test-services.sh); a server that fails to start raises RuntimeError with the tail
of its log. The recipe behind these settings is SERVICES.md beside the checkout (../shared/).
"""

from __future__ import annotations

import contextlib
import glob
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0  # seconds a server gets to start before we give up
IS_ROOT = os.geteuid() == 0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- shared helpers ---------------------------------------------------------------------------


def _require(path_or_name: str, package: str) -> str:
    """Return the binary's path; raise RuntimeError naming the package when it is missing."""
    found = shutil.which(path_or_name)
    if not found:
        raise RuntimeError(
            f"{path_or_name} not found: install the Debian package '{package}' "
            "(as root: scripts/install-test-services.sh)"
        )
    return found


def _make_dir(owner: str | None = None) -> str:
    """Create a fresh 0755 folder under /tmp (not pytest's 0700 root), owned by `owner` as root."""
    path = tempfile.mkdtemp(prefix="helpdesk-test-", dir="/tmp")
    os.chmod(path, 0o755)
    if owner and IS_ROOT:
        user = pwd.getpwnam(owner)
        os.chown(path, user.pw_uid, user.pw_gid)
    return path


def _log_tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, errors="replace") as log:
            return "".join(log.readlines()[-lines:]).strip() or "(log is empty)"
    except OSError:
        return f"(no log at {path})"


def _wait_until(
    ready: Callable[[], bool], what: str, log: str, alive: Callable[[], bool] = lambda: True
) -> None:
    """Poll `ready` until it is true; raise with the log's tail on timeout or if `alive` fails."""
    deadline = time.monotonic() + READY_TIMEOUT
    delay = 0.01
    while not ready():
        if not alive():
            raise RuntimeError(f"{what} exited during start-up; log {log}:\n{_log_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{what} not ready after {READY_TIMEOUT:.0f} s; log {log}:\n{_log_tail(log)}"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def _greets(port: int, prefix: bytes) -> bool:
    """True when something on `port` accepts a connection and its first bytes start with prefix."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            return sock.recv(64).startswith(prefix)
    except OSError:
        return False


def _start(argv: list[str], log: str, **kwargs) -> subprocess.Popen:
    """Start argv in its own process group with output appended to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )


def _stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate the process group we started (its leader is proc), then kill what lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_bindir() -> str:
    """The highest installed PostgreSQL's bin folder, or pg_config's, or the folder of initdb."""

    def version(path: str) -> tuple[int, ...]:
        name = path.split("/")[-2]
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if os.access(f"{bindir}/initdb", os.X_OK):
            return bindir
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if os.access(f"{bindir}/initdb", os.X_OK):
            return bindir
    return os.path.dirname(_require("initdb", "postgresql"))


@dataclass
class PostgresServer:
    dir: str
    port: int
    bindir: str
    database: str = "helpdesk_test"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, name: str) -> str:
        """SQLAlchemy URL of database `name` in this cluster."""
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        """Create another database in this cluster and return its URL."""
        done = subprocess.run(
            [f"{self.bindir}/createdb", "-h", HOST, "-p", str(self.port), "-U", "postgres", name],
            capture_output=True,
            text=True,
            cwd=self.dir,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"createdb {name} failed: {done.stderr.strip()}")
        return self.url_for(name)


def _as_postgres(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: go through the postgres user."""
    return ["runuser", "-u", "postgres", "--", *argv] if IS_ROOT else argv


@contextlib.contextmanager
def postgres_server(database: str = "helpdesk_test") -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster with `database` created, tuned for speed, not durability."""
    bindir = _pg_bindir()
    if IS_ROOT:
        _require("runuser", "util-linux")
    base = _make_dir(owner="postgres")
    data, log, port = f"{base}/data", f"{base}/postgres.log", free_port()
    server = PostgresServer(base, port, bindir, database)

    def run(argv: list[str], what: str) -> None:
        done = subprocess.run(
            _as_postgres(argv), cwd=base, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise RuntimeError(
                f"PostgreSQL {what} failed ({bindir}): {output}\nlog {log}:\n{_log_tail(log)}"
            )

    try:
        run(
            [
                f"{bindir}/initdb",
                "-D",
                data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            "initdb",
        )
        options = (
            f"-p {port} -k {base} -c listen_addresses={HOST} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        run(
            [
                f"{bindir}/pg_ctl",
                "-D",
                data,
                "-l",
                log,
                "-w",
                "-t",
                str(int(READY_TIMEOUT)),
                "-o",
                options,
                "start",
            ],
            "start",
        )
        server.create_database(database)
        yield server
    finally:
        _stop_postgres(bindir, data)
        shutil.rmtree(base, ignore_errors=True)


def _stop_postgres(bindir: str, data: str) -> None:
    """Stop the cluster in `data`; if pg_ctl can't, kill the postmaster named in its pid file."""
    pidfile = f"{data}/postmaster.pid"
    if not os.path.exists(pidfile):
        return
    subprocess.run(
        _as_postgres([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]),
        cwd="/",
        capture_output=True,
        check=False,
    )
    with contextlib.suppress(OSError, ValueError), open(pidfile) as f:
        os.kill(int(f.readline()), signal.SIGKILL)


# --- Redis ------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    dir: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"


def _redis_pongs(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A Redis without persistence."""
    binary = _require("redis-server", "redis-server")
    base, port = _make_dir(), free_port()
    log = f"{base}/redis.log"
    proc = _start(
        [
            binary,
            "--bind",
            HOST,
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            base,
        ],
        log,
        cwd=base,
    )
    try:
        _wait_until(
            lambda: _redis_pongs(port), "redis-server", log, alive=lambda: proc.poll() is None
        )
        yield RedisServer(base, port)
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


# --- Dovecot (IMAP) ---------------------------------------------------------------------------

DOVECOT = "/usr/sbin/dovecot"

_DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = dovecot-test-{port}
log_path = {dir}/dovecot.log
protocols = imap
listen = {host}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
ssl = no
{oauth2_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = {host}
    port = {port}
  }}{login_chroot}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
{anvil}"""


@dataclass
class DovecotServer:
    dir: str
    port: int
    users: dict[str, str] = field(default_factory=dict)
    host: str = HOST

    def add_user(self, email: str, password: str) -> None:
        """Add a mailbox user (Dovecot rereads the users file on its next login)."""
        if ":" in email + password or "\n" in email + password:
            raise ValueError("user names and passwords may not contain ':' or newlines")
        self.users[email] = password
        with open(f"{self.dir}/users", "a") as users:
            users.write(f"{email}:{{PLAIN}}{password}\n")


_OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {dir}/oauth2.conf
}}
"""

_OAUTH2_CONF = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


@contextlib.contextmanager
def dovecot_server(
    users: dict[str, str] | None = None, oauth2_introspection_url: str | None = None
) -> Iterator[DovecotServer]:
    """A plain-IMAP Dovecot (no TLS) with maildir mailboxes for `users` ({email: password}).

    With `oauth2_introspection_url`, XOAUTH2 and OAUTHBEARER sign-ins are also accepted when a
    POST of `token=...` to that URL answers {"active": "true", "username": "<the user>"}.
    """
    binary = _require(DOVECOT, "dovecot-imapd")
    base, port = _make_dir(), free_port()
    if IS_ROOT:  # Dovecot refuses uid 0 for mail: the mail belongs to its own user.
        internal = pwd.getpwnam("dovecot")
        uid, gid = internal.pw_uid, internal.pw_gid
        names = {
            "internal_user": "dovecot",
            "internal_group": "dovecot",
            "login_user": "dovenull",
            "login_chroot": "",
            "anvil": "",
        }
    else:
        uid, gid = os.getuid(), os.getgid()
        me, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
        names = {
            "internal_user": me,
            "internal_group": group,
            "login_user": me,
            "login_chroot": "\n  chroot =",
            "anvil": "service anvil {\n  chroot =\n}\n",
        }
    os.makedirs(f"{base}/state")
    os.makedirs(f"{base}/mail")
    os.chown(f"{base}/mail", uid, gid)
    names["mechanisms"] = "plain login"
    names["oauth2_passdb"] = ""
    if oauth2_introspection_url:
        names["mechanisms"] = "plain login xoauth2 oauthbearer"
        names["oauth2_passdb"] = _OAUTH2_PASSDB.format(dir=base)
        with open(f"{base}/oauth2.conf", "w") as oauth2:
            oauth2.write(_OAUTH2_CONF.format(url=oauth2_introspection_url))
    with open(f"{base}/dovecot.conf", "w") as conf:
        conf.write(_DOVECOT_CONF.format(dir=base, port=port, host=HOST, uid=uid, gid=gid, **names))
    server = DovecotServer(base, port)
    open(f"{base}/users", "w").close()
    for email, password in (users or {}).items():
        server.add_user(email, password)

    log = f"{base}/dovecot.log"
    proc = _start([binary, "-F", "-c", f"{base}/dovecot.conf"], log)
    try:
        _wait_until(
            lambda: _greets(port, b"* OK"), "dovecot", log, alive=lambda: proc.poll() is None
        )
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


# --- SMTP (aiosmtpd in a thread) --------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes  # the raw message as it arrived (after SMTP dot-unstuffing)


class SmtpServer:
    """An in-process SMTP server that keeps every message it receives."""

    def __init__(self, port: int):
        self.host, self.port = HOST, port
        self._messages: list[ReceivedMessage] = []
        self._arrived = threading.Condition()

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the messages received so far, oldest first."""
        with self._arrived:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 10) -> list[ReceivedMessage]:
        """Wait until at least `count` messages arrived and return them; TimeoutError if not."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._messages) >= count, timeout):
                raise TimeoutError(
                    f"expected {count} message(s) within {timeout} s, got {len(self._messages)}"
                )
            return list(self._messages)

    def clear(self) -> None:
        with self._arrived:
            self._messages.clear()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = ReceivedMessage(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            envelope.original_content or envelope.content,
        )
        with self._arrived:
            self._messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted"


@contextlib.contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """An aiosmtpd server on a free port, running in a background thread."""
    from aiosmtpd.controller import Controller  # imported here: only the SMTP tests need it

    server = SmtpServer(free_port())
    # server_hostname skips a getfqdn() DNS lookup that can stall on machines without a resolver.
    controller = Controller(
        server,
        hostname=HOST,
        port=server.port,
        server_hostname="smtp.test",
        ready_timeout=READY_TIMEOUT,
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


class XOAuth2SmtpServer(SmtpServer):
    """An SMTP server that takes mail only after an XOAUTH2 sign-in with a bearer token that
    `token_is_valid(user, token)` accepts; it counts the sign-ins it refused."""

    def __init__(self, port: int, token_is_valid: Callable[[str, str], bool]):
        super().__init__(port)
        self._token_is_valid = token_is_valid
        self.signed_in: list[str] = []  # users, in order
        self.refused = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:  # noqa: N802
        # aiosmtpd's auth_required warns without TLS: refuse unsigned-in senders here instead.
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 (aiosmtpd's hook name)
        import base64

        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) > 1:
            blob = base64.b64decode(args[1])
        else:
            blob = await server.challenge_auth("", encode_to_b64=False)
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if "=" in part)
        user = fields.get("user", "")
        scheme, _, token = fields.get("auth", "").partition(" ")
        if scheme == "Bearer" and self._token_is_valid(user, token):
            self.signed_in.append(user)
            return AuthResult(success=True, auth_data=user)
        self.refused += 1
        # RFC-less but universal (Google, Microsoft): a JSON challenge, then 535.
        await server.challenge_auth('{"status":"401","schemes":"bearer"}')
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )


@contextlib.contextmanager
def xoauth2_smtp_server(token_is_valid: Callable[[str, str], bool]) -> Iterator[XOAuth2SmtpServer]:
    """An aiosmtpd server on a free port that requires an XOAUTH2 sign-in (and offers no other
    mechanism), running in a background thread."""
    from aiosmtpd.controller import Controller

    server = XOAuth2SmtpServer(free_port(), token_is_valid)
    controller = Controller(
        server,
        hostname=HOST,
        port=server.port,
        server_hostname="smtp-oauth.test",
        ready_timeout=READY_TIMEOUT,
        auth_require_tls=False,  # a test on 127.0.0.1: no certificate to present
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


class OAuthProvider(ThreadingHTTPServer):
    """An OAuth 2 provider's token endpoint (client "helpdesk-app") and the introspection
    endpoint Dovecot asks. With `rotate`, each refresh hands out a new refresh token and
    revokes the old one, as Microsoft 365 does."""

    def __init__(self, rotate: bool = False):
        super().__init__((HOST, free_port()), _OAuthHandler)
        self.rotate = rotate
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user
        self.access_tokens: dict[str, str] = {}  # access token -> user
        self.token_requests = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def grant(self, user: str) -> str:
        """A new refresh token for `user`."""
        token = f"rt-{uuid.uuid4().hex}"
        self.refresh_tokens[token] = user
        return token


class _OAuthHandler(BaseHTTPRequestHandler):
    server: OAuthProvider

    def do_POST(self):  # noqa: N802 (the http.server name)
        length = int(self.headers.get("Content-Length", 0))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.path != "/token":
            user = self.server.access_tokens.get(form.get("token", ""))
            return self._json(
                200, {"active": "true", "username": user} if user else {"active": "false"}
            )
        self.server.token_requests += 1
        tokens, refresh = self.server.refresh_tokens, form.get("refresh_token", "")
        user = tokens.pop(refresh, None) if self.server.rotate else tokens.get(refresh)
        if user is None or form.get("client_id") != "helpdesk-app":
            return self._json(400, {"error": "invalid_grant", "error_description": "revoked"})
        token = f"at-{uuid.uuid4().hex}"
        if user:  # "" issues a token the introspection endpoint does not know
            self.server.access_tokens[token] = user
        answer = {"access_token": token, "expires_in": 3600}
        if self.server.rotate:
            answer["refresh_token"] = self.server.grant(user)
        return self._json(200, answer)

    def _json(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def oauth_provider(rotate: bool = False) -> Iterator[OAuthProvider]:
    """A running OAuthProvider on a free 127.0.0.1 port."""
    provider = OAuthProvider(rotate)
    thread = threading.Thread(target=provider.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        provider.shutdown()
        provider.server_close()
