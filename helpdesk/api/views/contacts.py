"""Contacts and organizations: read and search (agents), upserts from an outside CRM."""

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from helpdesk.api import cursors, serialize
from helpdesk.api.auth import api_actor, require_staff
from helpdesk.api.routing import operation
from helpdesk.api.schemas import contacts as s
from helpdesk.api.search import like_pattern
from helpdesk.contacts import services
from helpdesk.contacts.models import Contact, ContactEmail, Organization
from helpdesk.errors import NotFound
from helpdesk.extensions import db

TAG = "Contacts"


def _page(stmt, model, limit: int, cursor: str | None):
    if cursor:
        stmt = stmt.where(model.id > cursors.decode_id(cursor))
    rows = list(db.session.execute(stmt.order_by(model.id).limit(limit + 1)).scalars())
    next_cursor = cursors.encode(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


@operation(
    "GET",
    "/contacts",
    summary="Find contacts",
    tag=TAG,
    query=s.ContactQuery,
    responses={200: s.ContactList},
    errors=(403,),
)
def list_contacts(query: s.ContactQuery):
    """Agents and admins. `email` matches one address exactly; `q` a part of a name or address."""
    require_staff(api_actor())
    stmt = select(Contact).options(
        selectinload(Contact.emails),
        selectinload(Contact.phones),
        selectinload(Contact.organization),
        selectinload(Contact.user),
    )
    if query.email is not None:
        owners = select(ContactEmail.contact_id).where(
            ContactEmail.email == query.email.strip().lower()
        )
        stmt = stmt.where(Contact.id.in_(owners))
    if query.q:
        pattern = like_pattern(query.q.strip())
        by_address = select(ContactEmail.contact_id).where(
            ContactEmail.email.ilike(pattern, escape="\\")
        )
        stmt = stmt.where(or_(Contact.name.ilike(pattern, escape="\\"), Contact.id.in_(by_address)))
    rows, next_cursor = _page(stmt, Contact, query.limit, query.cursor)
    return s.ContactList(items=[serialize.contact(c) for c in rows], next_cursor=next_cursor)


@operation(
    "GET",
    "/contacts/<dbid:id>",
    summary="Read a contact",
    tag=TAG,
    responses={200: s.Contact},
    errors=(403,),
    path_docs={"id": "The contact's id in the helpdesk."},
)
def get_contact(id: int):
    require_staff(api_actor())
    contact = db.session.get(Contact, id)
    if contact is None:
        raise NotFound("There is no such contact.")
    return serialize.contact(contact)


@operation(
    "PUT",
    "/contacts/<extid:id>",
    summary="Create or update a contact from a CRM",
    tag=TAG,
    body=s.ContactUpsert,
    responses={200: s.Contact, 201: s.Contact},
    errors=(403, 409),
    path_docs={"id": "The CRM's id for the contact (its external id)."},
)
def upsert_contact(id: str, body: s.ContactUpsert):
    """Keyed by (`crm`, external id): 201 when created, 200 when updated. An existing contact
    who owns one of the addresses, and no CRM record yet, becomes this record. An address
    that belongs to another contact is a 409."""
    data = body.model_dump(exclude_unset=True)
    data["crm"] = body.crm
    contact, created = services.upsert_contact(api_actor(), id, data)
    return serialize.contact(contact), 201 if created else 200


@operation(
    "GET",
    "/organizations",
    summary="Find organizations",
    tag=TAG,
    query=s.OrganizationQuery,
    responses={200: s.OrganizationList},
    errors=(403,),
)
def list_organizations(query: s.OrganizationQuery):
    require_staff(api_actor())
    stmt = select(Organization).options(selectinload(Organization.domains))
    if query.q:
        stmt = stmt.where(Organization.name.ilike(like_pattern(query.q.strip()), escape="\\"))
    rows, next_cursor = _page(stmt, Organization, query.limit, query.cursor)
    return s.OrganizationList(
        items=[serialize.organization(o) for o in rows], next_cursor=next_cursor
    )


@operation(
    "GET",
    "/organizations/<dbid:id>",
    summary="Read an organization",
    tag=TAG,
    responses={200: s.Organization},
    errors=(403,),
    path_docs={"id": "The organization's id in the helpdesk."},
)
def get_organization(id: int):
    require_staff(api_actor())
    org = db.session.get(Organization, id)
    if org is None:
        raise NotFound("There is no such organization.")
    return serialize.organization(org)


@operation(
    "PUT",
    "/organizations/<extid:id>",
    summary="Create or update an organization from a CRM",
    tag=TAG,
    body=s.OrganizationUpsert,
    responses={200: s.Organization, 201: s.Organization},
    errors=(403, 409),
    path_docs={"id": "The CRM's id for the organization (its external id)."},
)
def upsert_organization(id: str, body: s.OrganizationUpsert):
    """Keyed by (`crm`, external id): 201 when created, 200 when updated. An organization of
    the same name that no CRM owns yet becomes this record."""
    data = body.model_dump(exclude_unset=True)
    data["crm"] = body.crm
    org, created = services.upsert_organization(api_actor(), id, data)
    return serialize.organization(org), 201 if created else 200
