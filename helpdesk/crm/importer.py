"""Importing contacts and organizations into the built-in CRM from CSV or vCard files.

CSV as desktop CRMs and spreadsheets export it: UTF-8 (with or without BOM) or
windows-1251, separated by commas or semicolons, with a header row. Columns are found by
their usual names (English or Russian) or by an explicit mapping. vCard 2.1, 3.0 and 4.0,
including quoted-printable values.

Each row is applied in a savepoint, so a rejected row leaves no trace and the others go on.
A contact is found by any of its addresses (or by the source's external id); an
organization by its tax id, else by its name.
"""

import csv
import io
import quopri
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import false, update

from helpdesk.accounts.actor import Actor
from helpdesk.contacts.models import Contact, ContactPhone, Organization, OrganizationPhone
from helpdesk.contacts.services import add_email, find_contact_by_email, upsert_contact
from helpdesk.crm import records
from helpdesk.crm.connections import CrmConnection
from helpdesk.errors import DomainError, ValidationError
from helpdesk.extensions import db
from helpdesk.validation import clean_body, clean_email, clean_name

# The fields a row can fill, and the column names recognised for each (lower case).
FIELDS: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "display name", "contact", "фио", "контакт", "имя контакта"),
    "first_name": ("first name", "given name", "firstname", "имя"),
    "last_name": ("last name", "family name", "surname", "lastname", "фамилия"),
    "email": ("email", "e-mail", "mail", "email address", "e-mail address", "эл. почта",
              "электронная почта", "почта", "адрес эл. почты"),
    "phone": ("phone", "telephone", "mobile", "mobile phone", "work phone", "phone number",
              "телефон", "мобильный телефон", "рабочий телефон", "мобильный"),
    "organization": ("organization", "organisation", "company", "company name", "account",
                     "компания", "организация", "название компании"),
    "domain": ("domain", "website", "web site", "web", "url", "сайт", "домен"),
    "tax_id": ("tax id", "vat", "vat id", "vat number", "tax number", "инн"),
    "notes": ("notes", "note", "comment", "comments", "description", "комментарий",
              "примечание", "заметки"),
    "external_id": ("id", "external id", "external_id", "crm id", "uid"),
}  # fmt: skip
MULTI = {"email", "phone", "domain"}
SPLIT = re.compile(r"[;,\n]+")


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)

    @property
    def total(self) -> int:
        return self.created + self.updated + len(self.rejected)

    def lines(self) -> list[str]:
        head = (
            f"{self.total} row(s): {self.created} created, {self.updated} updated, "
            f"{len(self.rejected)} rejected"
        )
        return [head] + [f"  row {row}: {reason}" for row, reason in self.rejected]


@dataclass
class Row:
    """One record read from a file, before it is checked."""

    number: int
    values: dict[str, list[str]]

    def one(self, name: str) -> str:
        return next((v.strip() for v in self.values.get(name, []) if v.strip()), "")

    def many(self, name: str) -> list[str]:
        found = []
        for value in self.values.get(name, []):
            found.extend(p.strip() for p in SPLIT.split(value) if p.strip())
        return list(dict.fromkeys(found))


# Reading ---------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or, failing that, windows-1251."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1251")


def sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (";", ",", "\t")}
    return max(counts, key=lambda d: (counts[d], d == ","))


def column_map(headers: list[str], mapping: dict | None) -> dict[int, str]:
    """Which field each column fills. `mapping`: {field: column name or [names]}."""
    if mapping:
        unknown = set(mapping) - set(FIELDS)
        if unknown:
            raise ValidationError(
                "Unknown field(s) in the mapping: %(unknown)s; known: %(known)s.",
                unknown=", ".join(sorted(unknown)),
                known=", ".join(FIELDS),
            )
        wanted = {}
        for name, columns in mapping.items():
            for column in [columns] if isinstance(columns, str) else columns:
                wanted[column.strip().lower()] = name
    else:
        wanted = {alias: name for name, aliases in FIELDS.items() for alias in aliases}
    found = {}
    for index, header in enumerate(headers):
        key = re.sub(r"\s+", " ", header.strip().strip('"').lower())
        # "E-mail 2", "Телефон (рабочий)": the base name decides.
        base = re.sub(r"\s*(\d+|\(.*\))$", "", key)
        name = wanted.get(key) or wanted.get(base)
        if name:
            found[index] = name
    return found


def read_csv(text: str, mapping: dict | None = None) -> list[Row]:
    reader = csv.reader(io.StringIO(text), delimiter=sniff_delimiter(text))
    headers = next(reader, None)
    if not headers:
        raise ValidationError("The file is empty.")
    columns = column_map(headers, mapping)
    if not columns:
        raise ValidationError(
            "No known column in the header row; give a --mapping, e.g. "
            '{"email": "Mail", "name": "Client"}.'
        )
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        values: dict[str, list[str]] = {}
        for index, name in columns.items():
            if index < len(cells):
                values.setdefault(name, []).append(cells[index])
        rows.append(Row(number, values))
    return rows


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += line[1:]  # folded (RFC 6350 3.2)
        elif lines and lines[-1].endswith("=") and "QUOTED-PRINTABLE" in lines[-1].upper():
            lines[-1] = lines[-1][:-1] + line  # a quoted-printable soft break
        else:
            lines.append(line)
    return lines


def _vcard_value(params: list[str], raw: str) -> str:
    upper = [p.upper() for p in params]
    if "ENCODING=QUOTED-PRINTABLE" in upper or "QUOTED-PRINTABLE" in upper:
        charset = next((p.split("=", 1)[1] for p in params if p.upper().startswith("CHARSET=")), "")
        data = quopri.decodestring(raw.encode("latin-1", "replace"))
        return decode(data) if not charset else data.decode(charset, "replace")
    return raw


def _unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def read_vcard(text: str) -> list[Row]:
    rows, card, number = [], None, 0
    for index, line in enumerate(_unfold(text), start=1):
        name, _, raw = line.partition(":")
        prop, *params = name.split(";")
        prop = prop.split(".")[-1].upper()  # "item1.EMAIL" → EMAIL
        if prop == "BEGIN" and raw.strip().upper() == "VCARD":
            card, number = {}, index
        elif prop == "END" and card is not None:
            rows.append(Row(number, card))
            card = None
        elif card is not None:
            value = _vcard_value(params, raw)
            if prop == "FN":
                card.setdefault("name", []).append(_unescape(value))
            elif prop == "N":
                parts = [_unescape(p) for p in re.split(r"(?<!\\);", value)] + ["", ""]
                card.setdefault("last_name", []).append(parts[0])
                card.setdefault("first_name", []).append(parts[1])
            elif prop in ("EMAIL", "TEL"):
                field_name = "email" if prop == "EMAIL" else "phone"
                card.setdefault(field_name, []).append(value.removeprefix("tel:").strip())
            elif prop == "ORG":
                card.setdefault("organization", []).append(
                    _unescape(re.split(r"(?<!\\);", value)[0])
                )
            elif prop == "NOTE":
                card.setdefault("notes", []).append(_unescape(value))
            elif prop == "UID":
                card.setdefault("external_id", []).append(value.strip())
            elif prop == "URL":
                card.setdefault("domain", []).append(value.strip())
    return rows


def read_rows(filename: str, data: bytes, mapping: dict | None = None) -> list[Row]:
    text = decode(data)
    if filename.lower().endswith((".vcf", ".vcard")) or text.lstrip().upper().startswith(
        "BEGIN:VCARD"
    ):
        return read_vcard(text)
    return read_csv(text, mapping)


# Applying --------------------------------------------------------------------------------


def _organization(row: Row, actor: Actor) -> tuple[Organization | None, bool]:
    """The row's organization, found by tax id or name and filled in; True when created."""
    name, tax_id = row.one("organization"), records.clean_tax_id(row.one("tax_id"))
    if not name and not tax_id:
        return None, False
    org = (records.organization_with_tax_id(tax_id) if tax_id else None) or (
        records.organization_named(name) if name else None
    )
    created = org is None
    if org is None:
        if not name:
            raise ValidationError(
                "No organization has the tax id %(tax_id)s; give its name too.", tax_id=tax_id
            )
        org = Organization(name=clean_name(name, field="organization"))
        db.session.add(org)
    if tax_id and not org.tax_id:
        org.tax_id = tax_id
    has_person = row.one("email") or row.one("name") or row.one("first_name")
    if not has_person and row.one("notes") and not org.notes:
        org.notes = clean_body(row.one("notes"), field="notes", required=False)
    records.add_domains(org, row.many("domain"))
    if not has_person:
        known = {p.phone for p in org.phones}
        for phone in records.clean_phones(row.many("phone")):
            if phone not in known:
                org.phones.append(OrganizationPhone(phone=phone))
    db.session.flush()
    return org, created


def _person_name(row: Row, emails: list[str]) -> str:
    name = row.one("name") or " ".join(
        p for p in (row.one("first_name"), row.one("last_name")) if p
    )
    return name or emails[0].partition("@")[0]


def apply_row(row: Row, actor: Actor, source: str) -> str:
    """ "created" or "updated"; raises DomainError with the reason to reject the row."""
    emails = [clean_email(e, field="email") for e in row.many("email")]
    if not emails and not row.one("organization"):
        raise ValidationError("no e-mail address and no organization")
    phones = records.clean_phones(row.many("phone"))
    org, org_created = _organization(row, actor)
    if not emails:
        return "created" if org_created else "updated"
    name = _person_name(row, emails)
    external_id = row.one("external_id")
    if external_id:
        contact, created = upsert_contact(
            actor,
            external_id,
            {"crm": source, "name": name, "emails": emails, "phones": phones},
        )
    else:
        contact, created = _upsert_by_email(name, emails, phones)
    if org is not None:
        contact.organization = org
    db.session.flush()
    return "created" if created else "updated"


def _upsert_by_email(name: str, emails: list[str], phones: list[str]) -> tuple[Contact, bool]:
    owners = {c.id: c for c in (find_contact_by_email(e) for e in emails) if c is not None}
    if len(owners) > 1:
        raise ValidationError("its addresses belong to different contacts")
    contact = next(iter(owners.values()), None)
    created = contact is None
    if contact is None:
        contact = Contact(name=clean_name(name))
        db.session.add(contact)
        db.session.flush()
    for address in emails:
        add_email(contact, address)
    known = {p.phone for p in contact.phones}
    contact.phones.extend(ContactPhone(phone=p) for p in phones if p not in known)
    return contact, created


def _open_transaction() -> None:
    """Make the row savepoints nest inside one transaction, so a dry run can undo them all.

    Python's sqlite3 driver begins a transaction only before a write; a SAVEPOINT outside
    one begins it instead, and releasing that savepoint commits. A write that changes
    nothing opens the transaction first (PostgreSQL is in one already).
    """
    db.session.execute(update(CrmConnection).where(false()).values(name=CrmConnection.name))


def import_rows(
    rows: Iterable[Row],
    *,
    source: str = "import",
    progress: Callable[[Row], None] | None = None,
    actor: Actor | None = None,
) -> Report:
    """Apply every row in its own savepoint; the caller commits (or rolls back a dry run)."""
    actor = actor or Actor.system()
    report = Report()
    _open_transaction()
    for row in rows:
        try:
            with db.session.begin_nested():
                outcome = apply_row(row, actor, source)
        except DomainError as exc:
            report.rejected.append((row.number, exc.message))
        else:
            if outcome == "created":
                report.created += 1
            else:
                report.updated += 1
        if progress is not None:
            progress(row)
    return report
