"""`flask crm import FILE`: contacts and organizations into the built-in CRM."""

import json
import os
import sys

import click
from flask.cli import AppGroup

from helpdesk.accounts.actor import Actor
from helpdesk.errors import DomainError
from helpdesk.extensions import db

crm = AppGroup("crm", help="The built-in CRM: import contacts and organizations.")


def _mapping(value: str | None) -> dict | None:
    """The --mapping option: JSON text, or the name of a file holding it."""
    if not value:
        return None
    text = value
    if os.path.isfile(value):
        with open(value, encoding="utf-8") as handle:
            text = handle.read()
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc.msg})", param_hint="--mapping") from None
    if not isinstance(mapping, dict):
        raise click.BadParameter('give an object: {"email": "Mail"}', param_hint="--mapping")
    return mapping


@crm.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--mapping",
    help='Columns for fields, as JSON (or a JSON file): {"email": ["Mail 1", "Mail 2"], '
    '"name": "Client", "organization": "Firm"}. Fields: name, first_name, last_name, email, '
    "phone, organization, domain, tax_id, notes, external_id.",
)
@click.option("--dry-run", is_flag=True, help="Check every row and report; change nothing.")
@click.option(
    "--source",
    default="import",
    show_default=True,
    help="Names the CRM that external ids (an id column, a vCard UID) belong to.",
)
def import_command(file, mapping, dry_run, source):
    """Import contacts and organizations from a CSV (UTF-8 or windows-1251, comma or
    semicolon) or vCard file."""
    from helpdesk.crm.importer import import_rows, read_rows

    with open(file, "rb") as handle:
        data = handle.read()
    try:
        rows = read_rows(file, data, _mapping(mapping))
    except DomainError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)
    with click.progressbar(length=len(rows), label="Importing", file=sys.stderr) as bar:
        report = import_rows(
            rows,
            source=source,
            progress=lambda _row: bar.update(1),
            actor=Actor.command_line(),
        )
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for line in report.lines():
        click.echo(line)
    if dry_run:
        click.echo("Dry run: nothing was saved.")
