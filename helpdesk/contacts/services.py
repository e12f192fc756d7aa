"""Finding and creating requesters by e-mail address."""

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import select

from helpdesk.contacts.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    Organization,
    OrganizationDomain,
)
from helpdesk.errors import Conflict, PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.validation import clean_body, clean_domain, clean_email, clean_name


def find_contact_by_email(email: str) -> Contact | None:
    return db.session.execute(
        select(Contact).join(ContactEmail).where(ContactEmail.email == email.strip().lower())
    ).scalar_one_or_none()


# The organizations of the domains a batch of inbound mail comes from, looked up once for
# the batch (see organizations_known): by domain, None for a domain no organization has.
_known_domains: ContextVar[dict[str, Organization | None] | None] = ContextVar(
    "known_domains", default=None
)


def _domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def organization_for_domain(email: str) -> Organization | None:
    domain = _domain(email)
    known = _known_domains.get()
    if known is not None and domain in known:
        return known[domain]
    return db.session.execute(
        select(Organization).join(OrganizationDomain).where(OrganizationDomain.domain == domain)
    ).scalar_one_or_none()


@contextmanager
def organizations_known(emails: Iterable[str]) -> Iterator[None]:
    """Within it, organization_for_domain answers for these addresses' domains from one
    look-up made here. For a batch of inbound mail, which creates no organizations."""
    domains, known = sorted({_domain(e) for e in emails if e}), {}
    for start in range(0, len(domains), 500):
        chunk = domains[start : start + 500]
        known.update(dict.fromkeys(chunk))
        rows = db.session.execute(
            select(OrganizationDomain.domain, Organization)
            .join(Organization, OrganizationDomain.organization_id == Organization.id)
            .where(OrganizationDomain.domain.in_(chunk))
        )
        known.update((domain, org) for domain, org in rows)
    token = _known_domains.set(known)
    try:
        yield
    finally:
        _known_domains.reset(token)


class KnownContacts:
    """Who owned a batch's addresses when it began (see contacts_known)."""

    def __init__(self, owners: dict[str, Contact], unowned: set[str]):
        self.owners = owners
        self.unowned = unowned  # nobody owned them, nor has this batch given them an owner

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """Work that may be undone (one mail, in its savepoint): the owners it gave to
        addresses count only if it ends without an error."""
        unowned = set(self.unowned)
        try:
            yield
        except BaseException:
            self.unowned = unowned
            raise


_known_contacts: ContextVar[KnownContacts | None] = ContextVar("known_contacts", default=None)


@contextmanager
def contacts_known(emails: Iterable[str]) -> Iterator[KnownContacts]:
    """Within it, find_or_create_contact answers for these addresses from one look-up made
    here, instead of a query per call. Run each piece of work that may be undone (a mail
    in its savepoint) in the yielded object's attempt()."""
    addresses = set()
    for email in emails:
        try:
            addresses.add(clean_email(email))
        except ValidationError:
            continue  # never looked up: find_or_create_contact refuses it
    owners: dict[str, Contact] = {}
    ordered = sorted(addresses)
    for start in range(0, len(ordered), 500):
        rows = db.session.execute(
            select(ContactEmail.email, Contact)
            .join(Contact, ContactEmail.contact_id == Contact.id)
            .where(ContactEmail.email.in_(ordered[start : start + 500]))
        )
        owners.update((address, contact) for address, contact in rows)
    known = KnownContacts(owners, addresses - owners.keys())
    token = _known_contacts.set(known)
    try:
        yield known
    finally:
        _known_contacts.reset(token)


def find_or_create_contact(email: str, name: str | None = None, *, flush: bool = True) -> Contact:
    """The contact who owns `email`, created (and placed in an organization by its mail
    domain) if nobody does yet. flush=False leaves a new contact to the caller's next flush
    (it has no id until then)."""
    address = clean_email(email)
    known = _known_contacts.get()
    if known is not None and address in known.owners:
        return known.owners[address]
    if known is not None and address in known.unowned:
        known.unowned.discard(address)  # it gets an owner now: a later call looks it up
    else:
        contact = find_contact_by_email(address)
        if contact is not None:
            return contact
    display = clean_name(name) if name and name.strip() else address.partition("@")[0]
    org = organization_for_domain(address)
    # A new contact has no account: said so, so that nobody loads one (Actor.for_contact).
    # The organization's id is set too: a ticket takes it from its requester before a flush.
    contact = Contact(
        name=display, organization=org, organization_id=org.id if org else None, user=None
    )
    contact.emails.append(ContactEmail(email=address))
    db.session.add(contact)
    if flush:
        db.session.flush()
    return contact


def add_email(contact: Contact, email: str, verified: bool = False) -> ContactEmail:
    """Give a contact another address; an address belongs to one contact only."""
    address = clean_email(email)
    owner = find_contact_by_email(address)
    if owner is not None and owner.id != contact.id:
        raise Conflict(
            "%(address)s already belongs to another contact.", {"email": "In use."}, address=address
        )
    if owner is not None:
        return next(e for e in contact.emails if e.email == address)
    entry = ContactEmail(email=address, verified=verified)
    contact.emails.append(entry)
    db.session.flush()
    return entry


def create_organization(name: str, domains: list[str] = ()) -> Organization:
    org_name = clean_name(name)
    if db.session.execute(select(Organization).where(Organization.name == org_name)).first():
        raise Conflict(
            "An organization named %(name)s exists already.", {"name": "In use."}, name=org_name
        )
    org = Organization(name=org_name)
    for raw in domains:
        org.domains.append(OrganizationDomain(domain=clean_domain(raw)))
    db.session.add(org)
    db.session.flush()
    return org


# Upserts from an outside CRM: the record is keyed by (crm, external_id).

_CRM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,49}$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{3,32}$")
EXTERNAL_ID_MAX = 200


def _require_staff(actor) -> None:
    if not (actor.is_staff or actor.is_system):
        raise PermissionDenied("Only agents and admins can change contacts and organizations.")


def _clean_crm(value: str | None) -> str:
    crm = (value or "").strip().lower()
    if not _CRM.match(crm):
        raise ValidationError(
            "Name the CRM with lower-case letters, digits, - . _ (at most 50).",
            {"crm": "Invalid."},
        )
    return crm


def _clean_external_id(value: str | None) -> str:
    external_id = (value or "").strip()
    if not external_id or len(external_id) > EXTERNAL_ID_MAX:
        raise ValidationError(
            "The external id must have 1 to %(max)s characters.",
            {"external_id": "Invalid."},
            max=EXTERNAL_ID_MAX,
        )
    return external_id


def _set_domains(org: Organization, raw_domains: list[str]) -> None:
    wanted = list(dict.fromkeys(clean_domain(d) for d in raw_domains))
    for domain in wanted:
        owner = db.session.execute(
            select(OrganizationDomain).where(OrganizationDomain.domain == domain)
        ).scalar_one_or_none()
        if owner is not None and owner.organization_id != org.id:
            raise Conflict(
                "The domain %(domain)s belongs to %(owner)s.",
                {"domains": f"{domain} is in use."},
                domain=domain,
                owner=owner.organization.name,
            )
    current = {entry.domain for entry in org.domains}
    org.domains = [entry for entry in org.domains if entry.domain in wanted] + [
        OrganizationDomain(domain=domain) for domain in wanted if domain not in current
    ]


def _by_external_id(model, crm: str, external_id: str):
    return db.session.execute(
        select(model).where(model.crm == crm, model.external_id == external_id)
    ).scalar_one_or_none()


def upsert_organization(actor, external_id: str, data: dict) -> tuple[Organization, bool]:
    """Create or update the organization a CRM knows as `external_id`; True when created.

    `data`: name, crm, and optionally notes and domains (the full list). An organization of
    the same name that no CRM owns yet is taken over. Raises Conflict on a name or domain
    that belongs to another organization.
    """
    _require_staff(actor)
    crm = _clean_crm(data.get("crm"))
    external_id = _clean_external_id(external_id)
    name = clean_name(data.get("name"))
    org = _by_external_id(Organization, crm, external_id)
    namesake = db.session.execute(
        select(Organization).where(Organization.name == name)
    ).scalar_one_or_none()
    created = False
    if namesake is not None and namesake is not org:
        if org is not None or namesake.external_id is not None:
            raise Conflict(
                "An organization named %(name)s exists already.", {"name": "In use."}, name=name
            )
        org = namesake
    if org is None:
        org = Organization(name=name)
        db.session.add(org)
        created = True
    org.crm, org.external_id, org.name = crm, external_id, name
    if "notes" in data:
        org.notes = clean_body(data["notes"], field="notes", required=False) or None
    if data.get("domains") is not None:
        _set_domains(org, data["domains"])
    db.session.flush()
    return org, created


def _clean_phone(raw: str) -> str:
    phone = " ".join((raw or "").split())
    if not _PHONE.match(phone):
        raise ValidationError(
            "“%(phone)s” is not a phone number.", {"phones": "Invalid."}, phone=raw[:40]
        )
    return phone


def _contact_for_emails(emails: list[str]) -> Contact | None:
    """The one existing contact that owns any of these addresses, if it may be taken over."""
    owners = {c.id: c for c in (find_contact_by_email(e) for e in emails) if c is not None}
    if len(owners) > 1:
        raise Conflict(
            "These addresses belong to different contacts.", {"emails": "Belong to others."}
        )
    owner = next(iter(owners.values()), None)
    if owner is not None and owner.external_id is not None:
        raise Conflict(
            "%(address)s belongs to another contact.",
            {"emails": "In use."},
            address=owner.primary_email,
        )
    return owner


def upsert_contact(actor, external_id: str, data: dict) -> tuple[Contact, bool]:
    """Create or update the contact a CRM knows as `external_id`; True when created.

    `data`: name, crm, and optionally emails (added, never removed: they identify past
    mail), phones (the full list) and organization_external_id (of the same CRM; None
    clears it). A contact that owns one of the addresses and no CRM owns yet is taken over.
    Raises Conflict when an address belongs to another contact.
    """
    _require_staff(actor)
    crm = _clean_crm(data.get("crm"))
    external_id = _clean_external_id(external_id)
    name = clean_name(data.get("name"))
    emails = list(dict.fromkeys(clean_email(e, field="emails") for e in data.get("emails") or []))
    contact = _by_external_id(Contact, crm, external_id)
    created = False
    if contact is None:
        contact = _contact_for_emails(emails)
    if contact is None:
        contact = Contact(
            name=name, organization=organization_for_domain(emails[0]) if emails else None
        )
        db.session.add(contact)
        created = True
    for address in emails:
        owner = find_contact_by_email(address)
        if owner is not None and owner is not contact:
            raise Conflict(
                "%(address)s belongs to another contact.", {"emails": "In use."}, address=address
            )
    contact.crm, contact.external_id, contact.name = crm, external_id, name
    known = {entry.email for entry in contact.emails}
    contact.emails.extend(ContactEmail(email=a) for a in emails if a not in known)
    if data.get("phones") is not None:
        phones = list(dict.fromkeys(_clean_phone(p) for p in data["phones"]))
        known_phones = {entry.phone for entry in contact.phones}
        contact.phones = [p for p in contact.phones if p.phone in phones] + [
            ContactPhone(phone=p) for p in phones if p not in known_phones
        ]
    if "organization_external_id" in data:
        org_id = data["organization_external_id"]
        org = _by_external_id(Organization, crm, org_id) if org_id else None
        if org_id and org is None:
            raise ValidationError(
                "No organization with the external id %(external_id)s in %(crm)s.",
                {"organization_external_id": "Unknown."},
                external_id=org_id,
                crm=crm,
            )
        contact.organization = org
    db.session.flush()
    return contact, created
