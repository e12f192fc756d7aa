"""Keeping CRM links, snapshots and notes up to date. Every CRM call happens here, in outbox
handlers run after the commit (an RQ worker or an in-process thread): a slow or absent CRM
delays the sync, never a ticket.

  ticket.created / ticket.status_changed → FANOUT → one SYNC item per active connection:
      link the requester (and their organization) unless an agent decided, then write the
      "created" or "resolved" note;
  a contact shown without a link → LINK;  a stale snapshot shown → REFRESH.

A failing call marks the connection (degraded after a few in a row) and raises, so the
outbox retries with back-off and parks the item for an admin after the last retry.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import select

from helpdesk import events, outbox
from helpdesk.contacts.models import Contact
from helpdesk.crm import notes
from helpdesk.crm.adapters import adapter_for
from helpdesk.crm.connections import (
    CrmConnection,
    CrmKind,
    active_connections,
    record_failure,
    record_success,
)
from helpdesk.crm.links import CrmLink, Subject
from helpdesk.crm.matching import Match, match_company, match_contact
from helpdesk.crm.protocol import CrmAdapter, CrmError
from helpdesk.extensions import db
from helpdesk.outbox.runner import handler
from helpdesk.tickets.models import Ticket
from helpdesk.timeutil import utcnow

FANOUT = "crm.ticket_event"
SYNC = "crm.sync_ticket"
LINK = "crm.link_contact"
REFRESH = "crm.refresh_link"

events.subscribe(events.TICKET_CREATED, FANOUT)
events.subscribe(events.STATUS_CHANGED, FANOUT)


def crm_event(payload: dict) -> str | None:
    """The note a ticket event asks for: "created", "resolved", or none."""
    if payload.get("event") == events.TICKET_CREATED:
        return "created"
    if payload.get("event") == events.STATUS_CHANGED and payload.get("new") == "resolved":
        return "resolved"
    return None


@contextmanager
def health(connection_id: int) -> Iterator[None]:
    """Record the outcome of the CRM calls inside on the connection, then let errors raise."""
    try:
        yield
    except CrmError as exc:
        db.session.rollback()
        record_failure(connection_id, exc.message)
        db.session.commit()
        raise
    record_success(connection_id)


# Links ---------------------------------------------------------------------------------


def find_link(connection_id: int, contact: Contact | None = None, organization=None):
    column = CrmLink.contact_id if contact is not None else CrmLink.organization_id
    subject_id = contact.id if contact is not None else organization.id
    return db.session.execute(
        select(CrmLink).where(CrmLink.connection_id == connection_id, column == subject_id)
    ).scalar_one_or_none()


def link_for(connection_id: int, contact: Contact | None = None, organization=None) -> CrmLink:
    """The link row for a contact or an organization, created empty if there is none."""
    link = find_link(connection_id, contact, organization)
    if link is None:
        link = CrmLink(
            connection_id=connection_id,
            subject=Subject.CONTACT if contact is not None else Subject.ORGANIZATION,
            contact=contact,
            organization=organization,
        )
        db.session.add(link)
        db.session.flush()
    return link


def _apply(link: CrmLink, match: Match, adapter: CrmAdapter) -> None:
    link.external_id = match.external_id
    link.match_rule = match.rule.value if match.rule else None
    link.confidence = match.confidence
    link.url = adapter.record_url(link.subject, match.external_id) if match.external_id else None
    link.candidates = (
        [{"id": c.external_id, "name": c.name, "url": c.url} for c in match.candidates]
        if match.ambiguous
        else []
    )
    link.updated_at = utcnow()


def _snapshot(record) -> dict | None:
    return record.as_snapshot() if record is not None else None


def link_requester(connection: CrmConnection, adapter: CrmAdapter, contact: Contact) -> CrmLink:
    """Match a requester and their organization in the CRM, unless an agent has decided for
    either, and store fresh snapshots of both."""
    link = link_for(connection.id, contact)
    emails = [e.email for e in contact.emails]
    if link.held_by_agent:
        person = adapter.get_contact(link.external_id) if link.external_id else None
    else:
        match = match_contact(
            emails,
            [p.phone for p in contact.phones],
            by_email=lambda email: adapter.find_contacts(email=email),
            by_phone=lambda phone: adapter.find_contacts(phone=phone),
            region=current_app.config.get("HELPDESK_CRM_PHONE_REGION"),
        )
        _apply(link, match, adapter)
        person = match.record
    org = contact.organization
    org_link = link_for(connection.id, organization=org) if org is not None else None
    if org_link is not None and org_link.held_by_agent:
        company_id = org_link.external_id
        rule = org_link.match_rule
    else:
        company_match = match_company(
            person,
            emails,
            org.tax_id if org is not None else None,
            by_domain=lambda domain: adapter.find_companies(domain=domain),
            by_tax_id=lambda tax_id: adapter.find_companies(tax_id=tax_id),
        )
        if org_link is not None:
            _apply(org_link, company_match, adapter)
        company_id = company_match.external_id
        rule = company_match.rule.value if company_match.rule else None
    company = adapter.get_company(company_id) if company_id else None
    link.snapshot = {
        "contact": _snapshot(person),
        "company": _snapshot(company),
        "company_rule": rule,
    }
    link.refresh_requested_at = None
    if org_link is not None:
        org_link.snapshot = {"company": _snapshot(company)}
        org_link.refresh_requested_at = None
    db.session.flush()
    return link


def refresh_link(link: CrmLink, adapter: CrmAdapter) -> None:
    """Fetch the linked record again (the page showed an old snapshot)."""
    link.refresh_requested_at = None
    if link.external_id is None:
        return
    old = link.snapshot or {}
    if link.subject == Subject.ORGANIZATION:
        company = adapter.get_company(link.external_id)
        link.snapshot = {"company": _snapshot(company), "missing": company is None}
    else:
        person = adapter.get_contact(link.external_id)
        rule = old.get("company_rule")
        company_id = (old.get("company") or {}).get("external_id")
        if person is not None and person.company_id:
            company_id, rule = person.company_id, "contact_company"
        company = adapter.get_company(company_id) if company_id else None
        link.snapshot = {
            "contact": _snapshot(person),
            "company": _snapshot(company),
            "company_rule": rule,
            "missing": person is None,
        }
    link.url = adapter.record_url(link.subject, link.external_id)


# Notes ---------------------------------------------------------------------------------


def note_text(ticket: Ticket, event: str, key: str) -> str:
    base = current_app.config["HELPDESK_BASE_URL"]
    verb = "opened" if event == "created" else "resolved"
    return (
        f"Support ticket #{ticket.number} {verb}: {ticket.subject}\n"
        f"{base}/agent/tickets/{ticket.number}\n"
        f"ref {key}"
    )


def deliver_note(adapter: CrmAdapter, note: notes.CrmNote, ticket: Ticket, target: str) -> str:
    """Write the note once: look first when an earlier attempt may have reached the CRM."""
    if note.external_id:
        return f"note {note.external_id} written already"
    target = note.target_id or target
    was_uncertain = note.uncertain
    if was_uncertain:
        found = adapter.find_note(target, note.key)
        if found:
            notes.mark_sent(note, found)
            return f"note {found} found (an earlier attempt wrote it)"
    notes.mark_attempted(note, target)
    when = (ticket.resolved_at if note.event == "resolved" else None) or ticket.created_at
    try:
        result = adapter.add_note(
            target, note_text(ticket, note.event, note.key), key=note.key, when=when
        )
    except CrmError as exc:
        if not exc.maybe_delivered and not was_uncertain:
            notes.mark_not_sent(note)
        raise
    notes.mark_sent(note, result.external_id)
    return f"note {result.external_id} written"


# Outbox handlers -------------------------------------------------------------------------


@handler(FANOUT)
def fan_out(payload: dict) -> str:
    event = crm_event(payload)
    if event is None:
        return "no CRM note for this event"
    connections = active_connections()
    for connection in connections:
        outbox.enqueue(
            SYNC,
            {"connection_id": connection.id, "ticket_id": payload["ticket_id"], "event": event},
        )
    return f"{len(connections)} CRM connection(s)"


@handler(SYNC)
def sync_ticket(payload: dict) -> str:
    connection = db.session.get(CrmConnection, payload["connection_id"])
    ticket = db.session.get(Ticket, payload["ticket_id"])
    if connection is None or not connection.active:
        return "connection removed or switched off"
    if ticket is None:
        return "ticket gone"
    with health(connection.id):
        adapter = adapter_for(connection)
        link = link_requester(connection, adapter, ticket.requester)
        db.session.commit()  # the link stands even if the note fails
        if connection.kind == CrmKind.BUILTIN:
            return "linked"
        if link.external_id is None:
            return "requester not matched in the CRM: no note"
        note = notes.note_row(connection.id, ticket.id, payload["event"])
        return deliver_note(adapter, note, ticket, link.external_id)


@handler(LINK)
def link_contact(payload: dict) -> str:
    connection = db.session.get(CrmConnection, payload["connection_id"])
    contact = db.session.get(Contact, payload["contact_id"])
    if connection is None or not connection.active or contact is None:
        return "nothing to link"
    with health(connection.id):
        link = link_requester(connection, adapter_for(connection), contact)
    return f"linked to {link.external_id}" if link.external_id else "no match"


@handler(REFRESH)
def refresh(payload: dict) -> str:
    link = db.session.get(CrmLink, payload["link_id"])
    if link is None or not link.connection.active:
        return "nothing to refresh"
    with health(link.connection_id):
        refresh_link(link, adapter_for(link.connection))
    return "refreshed"
