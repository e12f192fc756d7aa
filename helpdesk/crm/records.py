"""The built-in CRM's records: organizations and contacts as agents edit them and files
import them. Phone numbers are stored in E.164; tax ids upper case without separators."""

from flask import current_app
from sqlalchemy import func, select

from helpdesk import audit, validation
from helpdesk.accounts.models import User
from helpdesk.contacts.models import (
    Contact,
    ContactPhone,
    Organization,
    OrganizationDomain,
    OrganizationPhone,
)
from helpdesk.contacts.services import add_email, find_contact_by_email
from helpdesk.crm.matching import normalize_phone, normalize_tax_id
from helpdesk.errors import Conflict, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.validation import clean_body, clean_email, clean_name

TAX_ID_MAX = 32
PHONES_MAX = 10
EMAILS_MAX = 10
DOMAINS_MAX = 20


def require_staff(actor) -> None:
    if not (actor.is_staff or actor.is_system):
        raise PermissionDenied("Only agents and admins can change the client records.")


def phone_region() -> str | None:
    return current_app.config.get("HELPDESK_CRM_PHONE_REGION")


def clean_phone(raw: str, region: str | None = None) -> str:
    """The number in E.164; a number without +country code needs a default region."""
    phone = normalize_phone(raw, region or phone_region())
    if phone is None:
        raise ValidationError(
            "“%(number)s” is not a phone number (write it as +country code and number).",
            {"phones": "Invalid."},
            number=raw.strip()[:40],
        )
    return phone


def clean_phones(raws: list[str], region: str | None = None) -> list[str]:
    phones = list(dict.fromkeys(clean_phone(p, region) for p in raws if p.strip()))
    if len(phones) > PHONES_MAX:
        raise ValidationError(
            "At most %(max)s phone numbers.", {"phones": "Too many."}, max=PHONES_MAX
        )
    return phones


def clean_tax_id(raw: str | None) -> str | None:
    tax_id = normalize_tax_id(raw)
    if tax_id and len(tax_id) > TAX_ID_MAX:
        raise ValidationError(
            "A tax id has at most %(max)s characters.", {"tax_id": "Too long."}, max=TAX_ID_MAX
        )
    return tax_id


def clean_domain(raw: str) -> str:
    """Also takes a web address as a CRM exports it (https://www.acme.example/)."""
    domain = (raw or "").strip().lower().lstrip("@")
    if domain.startswith(("http://", "https://")):
        domain = domain.split("//", 1)[1].split("/", 1)[0]
    try:
        return validation.clean_domain(domain.removeprefix("www."))
    except ValidationError:
        raise ValidationError(
            "“%(domain)s” is not a mail domain.", {"domains": "Invalid."}, domain=raw
        ) from None


def organization_named(name: str) -> Organization | None:
    return db.session.execute(
        select(Organization).where(func.lower(Organization.name) == name.strip().lower())
    ).scalar_one_or_none()


def organization_with_tax_id(tax_id: str) -> Organization | None:
    return db.session.execute(
        select(Organization).where(Organization.tax_id == tax_id).limit(1)
    ).scalar_one_or_none()


def add_domains(org: Organization, raws: list[str]) -> None:
    """Give the organization these mail domains; a domain belongs to one organization."""
    known = {d.domain for d in org.domains}
    for domain in dict.fromkeys(clean_domain(d) for d in raws if d.strip()):
        if domain in known:
            continue
        owner = db.session.execute(
            select(OrganizationDomain).where(OrganizationDomain.domain == domain)
        ).scalar_one_or_none()
        if owner is not None:
            raise Conflict(
                "The domain %(domain)s belongs to %(owner)s.",
                {"domains": f"{domain} is in use."},
                domain=domain,
                owner=owner.organization.name,
            )
        org.domains.append(OrganizationDomain(domain=domain))
        known.add(domain)


def _organization_summary(org: Organization) -> str:
    domains = ", ".join(sorted(d.domain for d in org.domains)) or "-"
    phones = ", ".join(p.phone for p in org.phones) or "-"
    return f"{org.name}; domains: {domains}; tax id: {org.tax_id or '-'}; phones: {phones}"


def _contact_summary(contact: Contact) -> str:
    emails = ", ".join(sorted(e.email for e in contact.emails))
    organization = contact.organization.name if contact.organization else "-"
    return f"{contact.name} <{emails}>; organization: {organization}"


def _record(actor, what: str, before: str | None, after: str) -> None:
    """Audit a created or changed record; saving it unchanged leaves no line."""
    if before != after:
        audit.record(actor, f"{what}.{'created' if before is None else 'changed'}", before, after)


def save_organization(
    actor,
    org: Organization | None,
    *,
    name: str,
    domains: list[str] = (),
    tax_id: str | None = None,
    phones: list[str] = (),
    notes: str | None = None,
) -> Organization:
    """Create (org None) or update an organization with exactly these values."""
    require_staff(actor)
    clean = clean_name(name)
    namesake = organization_named(clean)
    if namesake is not None and namesake is not org:
        raise Conflict(
            "An organization named %(name)s exists already.", {"name": "In use."}, name=clean
        )
    wanted_domains = list(dict.fromkeys(clean_domain(d) for d in domains if d.strip()))
    if len(wanted_domains) > DOMAINS_MAX:
        raise ValidationError("At most %(max)s domains.", {"domains": "Too many."}, max=DOMAINS_MAX)
    wanted_phones = clean_phones(list(phones))
    before = _organization_summary(org) if org is not None else None
    if org is None:
        org = Organization(name=clean)
        db.session.add(org)
    org.name = clean
    org.tax_id = clean_tax_id(tax_id)
    org.notes = clean_body(notes, field="notes", required=False) or None
    org.domains = [d for d in org.domains if d.domain in wanted_domains]
    db.session.flush()
    add_domains(org, wanted_domains)
    current = {p.phone: p for p in org.phones}
    org.phones = [current.get(p) or OrganizationPhone(phone=p) for p in wanted_phones]
    db.session.flush()
    _record(actor, "organization", before, _organization_summary(org))
    return org


def _sign_in_addresses(contact: Contact) -> set[str]:
    user = db.session.execute(
        select(User).where(User.contact_id == contact.id)
    ).scalar_one_or_none()
    return {user.email.lower()} if user is not None else set()


def save_contact(
    actor,
    contact: Contact | None,
    *,
    name: str,
    emails: list[str],
    phones: list[str] = (),
    organization: Organization | None = None,
) -> Contact:
    """Create (contact None) or update a contact with exactly these addresses and phones.

    An address belongs to one contact only; the address someone signs in with stays.
    """
    require_staff(actor)
    clean = clean_name(name)
    wanted = list(dict.fromkeys(clean_email(e, field="emails") for e in emails if e.strip()))
    if not wanted:
        raise ValidationError("Give at least one e-mail address.", {"emails": "Required."})
    if len(wanted) > EMAILS_MAX:
        raise ValidationError("At most %(max)s addresses.", {"emails": "Too many."}, max=EMAILS_MAX)
    for address in wanted:
        owner = find_contact_by_email(address)
        if owner is not None and owner is not contact:
            raise Conflict(
                "%(address)s belongs to %(name)s.",
                {"emails": "In use."},
                address=address,
                name=owner.name,
            )
    wanted_phones = clean_phones(list(phones))
    before = _contact_summary(contact) if contact is not None else None
    if contact is None:
        contact = Contact(name=clean)
        db.session.add(contact)
    else:
        kept = _sign_in_addresses(contact) - set(wanted)
        if kept:
            raise ValidationError(
                "%(addresses)s is how they sign in; it cannot be removed.",
                {"emails": "Needed to sign in."},
                addresses=", ".join(sorted(kept)),
            )
    contact.name = clean
    contact.organization = organization
    contact.emails = [e for e in contact.emails if e.email in wanted]
    db.session.flush()
    for address in wanted:
        add_email(contact, address)
    current = {p.phone: p for p in contact.phones}
    contact.phones = [current.get(p) or ContactPhone(phone=p) for p in wanted_phones]
    db.session.flush()
    _record(actor, "contact", before, _contact_summary(contact))
    return contact
