"""Finding and creating requesters by e-mail address."""

from sqlalchemy import select

from helpdesk.contacts.models import Contact, ContactEmail, Organization, OrganizationDomain
from helpdesk.errors import Conflict, ValidationError
from helpdesk.extensions import db
from helpdesk.validation import clean_email, clean_name


def find_contact_by_email(email: str) -> Contact | None:
    return db.session.execute(
        select(Contact).join(ContactEmail).where(ContactEmail.email == email.strip().lower())
    ).scalar_one_or_none()


def organization_for_domain(email: str) -> Organization | None:
    domain = email.rpartition("@")[2].lower()
    return db.session.execute(
        select(Organization).join(OrganizationDomain).where(OrganizationDomain.domain == domain)
    ).scalar_one_or_none()


def find_or_create_contact(email: str, name: str | None = None) -> Contact:
    """The contact who owns `email`, created (and placed in an organization by its mail
    domain) if nobody does yet."""
    address = clean_email(email)
    contact = find_contact_by_email(address)
    if contact is not None:
        return contact
    display = clean_name(name) if name and name.strip() else address.partition("@")[0]
    contact = Contact(name=display, organization=organization_for_domain(address))
    contact.emails.append(ContactEmail(email=address))
    db.session.add(contact)
    db.session.flush()
    return contact


def add_email(contact: Contact, email: str, verified: bool = False) -> ContactEmail:
    """Give a contact another address; an address belongs to one contact only."""
    address = clean_email(email)
    owner = find_contact_by_email(address)
    if owner is not None and owner.id != contact.id:
        raise Conflict(f"{address} already belongs to another contact.", {"email": "In use."})
    if owner is not None:
        return next(e for e in contact.emails if e.email == address)
    entry = ContactEmail(email=address, verified=verified)
    contact.emails.append(entry)
    db.session.flush()
    return entry


def create_organization(name: str, domains: list[str] = ()) -> Organization:
    org_name = clean_name(name)
    if db.session.execute(select(Organization).where(Organization.name == org_name)).first():
        raise Conflict(f"An organization named {org_name} exists already.", {"name": "In use."})
    org = Organization(name=org_name)
    for raw in domains:
        domain = raw.strip().lower().lstrip("@")
        if not domain or "." not in domain or len(domain) > 253:
            raise ValidationError(f"“{raw}” is not a mail domain.", {"domains": "Invalid."})
        org.domains.append(OrganizationDomain(domain=domain))
    db.session.add(org)
    db.session.flush()
    return org
