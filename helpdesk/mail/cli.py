"""`flask mail …`: ingest raw mail files, review and retry the quarantine and the spam list.

The IMAP poller adds `flask mail poll` to the same group (from its own module).
"""

import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.i18n import N_
from helpdesk.mail import ingest
from helpdesk.mail.models import HELD_OUTCOMES, QUARANTINE_OUTCOMES, InboundMail, Outcome
from helpdesk.mail.parse import parse_message
from helpdesk.mail.prepare import header_block
from helpdesk.storage import blob_path, read_blob

mail_cli = AppGroup("mail", help="Inbound mail: ingest files, the quarantine, the spam list.")

# What became of a mail (English here; the console shows them translated).
LABELS = {
    Outcome.NEW_TICKET: N_("new ticket"),
    Outcome.REPLY: N_("reply"),
    Outcome.DUPLICATE: N_("duplicate"),
    Outcome.AUTO_REPLY: N_("automatic: an auto-reply"),
    Outcome.RECEIPT: N_("automatic: a read receipt"),
    Outcome.ABUSE_REPORT: N_("automatic: an abuse report"),
    Outcome.BOUNCE: N_("bounce"),
    Outcome.SPAM: N_("spam"),
    Outcome.BLOCKED: N_("spam: blocked sender"),
    Outcome.QUARANTINED: N_("quarantined"),
    Outcome.TOO_LARGE: N_("quarantined: too large"),
    Outcome.OWN_MAIL_LOOP: N_("dropped: our own mail came back"),
    Outcome.DISMISSED: N_("discarded by an agent"),
    Outcome.DELETED: N_("deleted as spam by an agent"),
}


def describe(result: ingest.IngestResult) -> str:
    """What happened, the ticket and why, on one line."""
    text = LABELS.get(result.outcome, result.outcome)
    if result.ticket_number is not None:
        text += f" #{result.ticket_number}"
    return f"{text} ({result.detail})" if result.detail else text


@mail_cli.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--support-address", multiple=True, help="Another address of ours (repeatable).")
def ingest_command(files, support_address):
    """Ingest raw RFC 822 files as if they had arrived by mail."""
    failed = False
    for name in files:
        try:
            raw = Path(name).read_bytes()
        except OSError as exc:
            click.echo(f"{name}: not read ({exc.strerror})", err=True)
            failed = True
            continue
        result = ingest.ingest_raw(raw, support_addresses=support_address)
        click.echo(f"{name}: {describe(result)}")
    if failed:
        sys.exit(1)


@mail_cli.group("quarantine", invoke_without_command=True)
@click.pass_context
def quarantine_group(context):
    """Mail that could not be processed (or was too large): list, show, retry."""
    if context.invoked_subcommand is None:
        context.invoke(quarantine_list)


@quarantine_group.command("list")
def quarantine_list():
    """Every mail in quarantine, oldest first."""
    rows = _rows(QUARANTINE_OUTCOMES)
    if not rows:
        click.echo("The quarantine is empty.")
    for row in rows:
        click.echo(_summary(row, row.detail or row.error or ""))


@quarantine_group.command("show")
@click.argument("inbound_id", type=int)
def quarantine_show(inbound_id):
    """The error, the headers and where the original is stored."""
    row = db.session.get(InboundMail, inbound_id)
    if row is None:
        _fail(f"there is no inbound mail {inbound_id}")
    click.echo(f"Inbound mail {row.id}: {LABELS.get(row.outcome, row.outcome)}")
    click.echo(f"Received:   {row.created_at:%Y-%m-%d %H:%M} UTC, attempts: {row.attempts}")
    for label, value in _header_lines(row):
        click.echo(f"{label + ':':<11} {value}")
    click.echo(f"Original:   {blob_path(row.raw_sha256)} ({row.raw_size} bytes)")
    if row.explanation:
        click.echo(f"Why:        {row.explanation}")
    if row.error:
        click.echo("Error:")
        click.echo(row.error.rstrip())


@quarantine_group.command("retry")
@click.argument("inbound_id", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Retry every mail in quarantine.")
def quarantine_retry(inbound_id, retry_all):
    """Process a quarantined mail again (after the cause was fixed)."""
    if retry_all == (inbound_id is not None):
        _fail("give one ID, or --all")
    ids = [row.id for row in _rows(QUARANTINE_OUTCOMES)] if retry_all else [inbound_id]
    still = 0
    for row_id in ids:
        try:
            result = ingest.retry(row_id)
        except DomainError as exc:
            _fail(exc.message)
        still += result.outcome in QUARANTINE_OUTCOMES
        click.echo(f"{row_id}: {describe(result)}")
    if retry_all:
        click.echo(f"{len(ids) - still} of {len(ids)} processed; {still} still in quarantine.")


@mail_cli.group("spam", invoke_without_command=True)
@click.pass_context
def spam_group(context):
    """Mail held as spam or from blocked senders: list, release."""
    if context.invoked_subcommand is None:
        context.invoke(spam_list)


@spam_group.command("list")
def spam_list():
    """Every held mail, oldest first."""
    rows = _rows(HELD_OUTCOMES)
    if not rows:
        click.echo("No mail is held as spam.")
    for row in rows:
        click.echo(_summary(row, row.detail or ""))


@spam_group.command("release")
@click.argument("inbound_id", type=int)
def spam_release(inbound_id):
    """Process a held mail as a normal one."""
    try:
        result = ingest.release(inbound_id)
    except DomainError as exc:
        _fail(exc.message)
    click.echo(f"{inbound_id}: {describe(result)}")


def _rows(outcomes) -> list[InboundMail]:
    return list(
        db.session.execute(
            select(InboundMail)
            .where(InboundMail.outcome.in_([str(o) for o in outcomes]))
            .order_by(InboundMail.created_at, InboundMail.id)
        ).scalars()
    )


def _summary(row: InboundMail, why: str) -> str:
    sender = row.sender or "(no sender)"
    subject = row.subject or "(no subject)"
    return f"{row.id}  {row.created_at:%Y-%m-%d %H:%M}  {sender}  {subject[:60]}  -- {why[:160]}"


def _header_lines(row: InboundMail) -> list[tuple[str, str]]:
    try:
        raw = read_blob(row.raw_sha256)
    except OSError as exc:
        return [("Headers", f"the original cannot be read ({exc.strerror})")]
    headers = parse_message(header_block(raw) + b"\n\n")
    to = ", ".join(address for _, address in headers.to + headers.cc)
    return [
        ("From", f"{headers.from_name} <{headers.from_address or ''}>".strip()),
        ("To", to or "-"),
        ("Subject", headers.subject or "-"),
        ("Date", str(headers.date or "-")),
        ("Message-ID", headers.message_id or "-"),
    ]


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)
