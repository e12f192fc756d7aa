"""The built-in CRM as an adapter: the helpdesk's own organizations and contacts.

It needs no link to show a requester (the requester is the record), but as a connection it
matches requesters to organizations by the same rules as an external CRM.
"""

from datetime import datetime

from sqlalchemy import select

from helpdesk.contacts.models import (
    Contact,
    ContactEmail,
    ContactPhone,
    Organization,
    OrganizationDomain,
)
from helpdesk.crm.protocol import CrmCompany, CrmContact, NoteResult
from helpdesk.extensions import db

FIND_LIMIT = 10


def contact_record(contact: Contact) -> CrmContact:
    return CrmContact(
        external_id=str(contact.id),
        name=contact.name,
        emails=tuple(e.email for e in contact.emails),
        phones=tuple(p.phone for p in contact.phones),
        company_id=str(contact.organization_id) if contact.organization_id else None,
        url=f"/agent/crm/contacts/{contact.id}",
    )


def company_record(org: Organization) -> CrmCompany:
    return CrmCompany(
        external_id=str(org.id),
        name=org.name,
        domains=tuple(d.domain for d in org.domains),
        tax_id=org.tax_id,
        phones=tuple(p.phone for p in org.phones),
        url=f"/agent/crm/organizations/{org.id}",
        details={"notes": org.notes} if org.notes else {},
    )


class BuiltinAdapter:
    kind = "builtin"

    def find_contacts(self, *, email: str | None = None, phone: str | None = None):
        if email:
            query = select(Contact).join(ContactEmail).where(ContactEmail.email == email.lower())
        else:
            query = select(Contact).join(ContactPhone).where(ContactPhone.phone == phone)
        found = db.session.execute(query.distinct().limit(FIND_LIMIT)).scalars()
        return [contact_record(c) for c in found]

    def get_contact(self, external_id: str) -> CrmContact | None:
        contact = db.session.get(Contact, int(external_id)) if external_id.isdigit() else None
        return contact_record(contact) if contact else None

    def get_company(self, external_id: str) -> CrmCompany | None:
        org = db.session.get(Organization, int(external_id)) if external_id.isdigit() else None
        return company_record(org) if org else None

    def find_companies(self, *, domain: str | None = None, tax_id: str | None = None):
        if domain:
            query = (
                select(Organization)
                .join(OrganizationDomain)
                .where(OrganizationDomain.domain == domain.lower())
            )
        else:
            query = select(Organization).where(Organization.tax_id == tax_id)
        return [company_record(o) for o in db.session.execute(query.limit(FIND_LIMIT)).scalars()]

    def add_note(self, contact_id: str, text: str, *, key: str, when: datetime) -> NoteResult:
        return NoteResult(key)  # the ticket's history is kept here already

    def find_note(self, contact_id: str, key: str) -> str | None:
        return None

    def record_url(self, subject: str, external_id: str) -> str:
        folder = "contacts" if subject == "contact" else "organizations"
        return f"/agent/crm/{folder}/{external_id}"

    def verify_webhook(self, method, url, headers, body) -> bool:
        return False

    def health_check(self) -> str:
        return "built-in CRM"
