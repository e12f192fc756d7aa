"""`flask mailbox …` (add, list, test, edit, remove) and `flask mail poll`.

Secrets come from the URL, standard input (--password-stdin) or a hidden prompt; they are
never echoed, logged or put in an error message.
"""

import signal
import sys
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from helpdesk.accounts.actor import Actor
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.mail import mailboxes as services
from helpdesk.mail.cli import mail_cli
from helpdesk.mail.mailboxes import Mailbox, MailboxAuth, is_stalled

mailbox_cli = AppGroup("mailbox", help="The IMAP mailboxes the poller reads.")

IMAP_URL_HELP = (
    "imap://USER[:PASS]@HOST:PORT/FOLDER (imaps:// for TLS; percent-encode @ in USER as %40). "
    "Without PASS the secret is prompted for, or read with --password-stdin."
)


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _read_secret(label: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(label, hide_input=True)


def _secret_label(auth: str, username: str) -> str:
    kind = "OAuth refresh token" if auth == MailboxAuth.XOAUTH2 else "Password"
    return f"{kind} for {username}"


def _oauth_options(func):
    options = [
        click.option("--oauth-token-url", help="xoauth2: the provider's token endpoint."),
        click.option("--oauth-client-id", help="xoauth2: the app's client id."),
        click.option(
            "--oauth-client-secret",
            envvar="HELPDESK_OAUTH_CLIENT_SECRET",
            help="xoauth2: the app's client secret (better from HELPDESK_OAUTH_CLIENT_SECRET).",
        ),
        click.option("--oauth-scope", help="xoauth2: scope to ask for, if the provider needs one."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@mailbox_cli.command("add")
@click.option("--name", required=True, help="A short name, e.g. support.")
@click.option("--imap-url", required=True, help=IMAP_URL_HELP)
@click.option("--processed-folder", help="Move ingested mail here (default: flag it read).")
@click.option("--address", help="The support address this mailbox receives.")
@click.option(
    "--auth",
    type=click.Choice([a.value for a in MailboxAuth]),
    default="password",
    show_default=True,
    help="xoauth2: the secret is an OAuth 2 refresh token (Microsoft 365, Google Workspace).",
)
@click.option("--smtp-url", help="smtp[s]://USER@HOST:PORT for replies from this address.")
@click.option("--password-stdin", is_flag=True, help="Read the secret from standard input.")
@_oauth_options
@with_appcontext
def add_command(name, imap_url, processed_folder, address, auth, smtp_url, password_stdin, **oauth):
    """Add a mailbox (its secret is stored encrypted)."""
    try:
        imap = services.parse_imap_url(imap_url)
        secret = imap.password or _read_secret(_secret_label(auth, imap.username), password_stdin)
        mailbox = services.add_mailbox(
            Actor.command_line(),
            name=name,
            imap=imap,
            secret=secret,
            processed_folder=processed_folder,
            address=address,
            auth=MailboxAuth(auth),
            smtp_url=smtp_url,
            **oauth,
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message)
    click.echo(f"Added mailbox {mailbox.name}: {mailbox.imap_url} ({mailbox.auth})")
    click.echo(f"Check it with: flask mailbox test {mailbox.name}")


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


def _describe(mailbox: Mailbox) -> list[str]:
    state = "enabled" if mailbox.enabled else "disabled"
    if is_stalled(mailbox):
        state += ", STALLED"
    after = f"move to {mailbox.processed_folder}" if mailbox.processed_folder else "flag as read"
    lines = [
        f"{mailbox.name}: {mailbox.imap_url} ({mailbox.auth}, {state})",
        f"  address: {mailbox.address or '-'}; after ingesting: {after}",
        f"  last successful poll: {_when(mailbox.last_success_at)}",
    ]
    if mailbox.smtp_host:
        lines.append(
            f"  smtp: {mailbox.smtp_username}@{mailbox.smtp_host}:{mailbox.smtp_port}"
            f" ({mailbox.smtp_security})"
        )
    if mailbox.consecutive_failures:
        lines.append(f"  failing ({mailbox.consecutive_failures}x): {mailbox.last_error}")
    return lines


@mailbox_cli.command("list")
@with_appcontext
def list_command():
    """List the mailboxes and how their polling goes (no secrets)."""
    found = services.list_mailboxes(Actor.command_line())
    if not found:
        click.echo("No mailboxes yet: add one with `flask mailbox add`.")
    for mailbox in found:
        click.echo("\n".join(_describe(mailbox)))


@mailbox_cli.command("test")
@click.argument("name")
@with_appcontext
def test_command(name):
    """Connect, sign in and list the folders."""
    from helpdesk.mail.poller import PollError

    try:
        mailbox = services.get_mailbox(Actor.command_line(), name)
        folders = services.test_mailbox(Actor.command_line(), mailbox)
    except (DomainError, PollError) as exc:
        db.session.commit()  # a refresh token the provider rotated before the failure
        _fail(getattr(exc, "message", None) or str(exc))
    db.session.commit()  # a refresh token the provider rotated during the test
    click.echo(
        f"{name}: signed in to {mailbox.imap_host}:{mailbox.imap_port} as {mailbox.username}"
    )
    for folder in folders:
        marks = [
            m
            for m, f in (("polled", mailbox.folder), ("processed", mailbox.processed_folder))
            if f == folder
        ]
        click.echo(f"  {folder}" + (f"  ({', '.join(marks)})" if marks else ""))
    if mailbox.processed_folder and mailbox.processed_folder not in folders:
        click.echo(f"  ({mailbox.processed_folder} does not exist yet: the poller creates it)")


@mailbox_cli.command("edit")
@click.argument("name")
@click.option("--rename", help="A new name.")
@click.option("--imap-url", help=IMAP_URL_HELP + " The stored secret stays unless PASS is given.")
@click.option("--processed-folder", help="Move ingested mail here; '' to flag it read instead.")
@click.option("--address")
@click.option("--auth", type=click.Choice([a.value for a in MailboxAuth]))
@click.option("--smtp-url", help="smtp[s]://USER@HOST:PORT; '' removes it.")
@click.option("--password-stdin", is_flag=True, help="Read a new secret from standard input.")
@click.option("--new-secret", is_flag=True, help="Prompt for a new secret.")
@click.option("--enable/--disable", "enabled", default=None)
@_oauth_options
@with_appcontext
def edit_command(name, rename, imap_url, password_stdin, new_secret, **options):
    """Change a mailbox's settings."""
    changes = {key: value for key, value in options.items() if value is not None}
    try:
        mailbox = services.get_mailbox(Actor.command_line(), name)
        if rename:
            changes["name"] = rename
        if imap_url:
            changes["imap"] = services.parse_imap_url(imap_url)
            changes["secret"] = changes["imap"].password
        if password_stdin or new_secret:
            label = _secret_label(changes.get("auth", mailbox.auth), mailbox.username)
            changes["secret"] = _read_secret(label, password_stdin)
        services.edit_mailbox(Actor.command_line(), mailbox, **changes)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message)
    click.echo("\n".join(_describe(mailbox)))


@mailbox_cli.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Don't ask.")
@with_appcontext
def remove_command(name, yes):
    """Remove a mailbox (the tickets and mail it brought stay)."""
    try:
        mailbox = services.get_mailbox(Actor.command_line(), name)
        if not yes:
            click.confirm(f"Remove the mailbox {name}?", abort=True)
        services.remove_mailbox(Actor.command_line(), mailbox)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message)
    click.echo(f"Removed mailbox {name}.")


@mail_cli.command("poll")
@click.option("--once", is_flag=True, help="Ingest what is there now, then exit.")
@click.option("--mailbox", "names", multiple=True, help="Only this mailbox (repeatable).")
@with_appcontext
def poll_command(once, names):
    """Poll the IMAP mailboxes and turn their mail into tickets (until stopped, or --once)."""
    from helpdesk.mail.poller import PollError, poll, summary

    app = current_app._get_current_object()
    stop = threading.Event()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            handlers[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        if not once:
            click.echo("Polling (Ctrl-C or SIGTERM stops)…", err=True)
        pollers = poll(app, list(names) or None, once=once, stop=stop)
    except PollError as exc:
        _fail(str(exc))
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    for poller in pollers:
        result = summary(poller.counts) if poller.ok else f"failed: {poller.error}"
        click.echo(f"{poller.name}: {result}")
    _finish_handed_work()
    if not all(poller.ok for poller in pollers):
        sys.exit(1)


def _finish_handed_work() -> None:
    """Without a worker (no REDIS_URL) this process sends the acknowledgements it queued: say
    so, instead of seeming to hang after the summary. What is not sent when the process ends
    stays queued for `flask worker` or `flask serve`."""
    from helpdesk.outbox import dispatch

    waiting = dispatch.handed_in_process()
    if waiting:
        click.echo(
            f"Running {waiting} queued task(s) the new mail set off (acknowledgements, "
            "notifications) before exiting…",
            err=True,
        )
    dispatch.drain()
