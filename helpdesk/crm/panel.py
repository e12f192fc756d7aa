"""What the ticket page shows about the client: rendered from the cached snapshots only.

`crm_panel(ticket)` is a template global (crm/panel.html). A missing or stale snapshot
queues a background sync; the page never waits for a CRM.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from helpdesk import outbox
from helpdesk.contacts.models import Contact, Organization
from helpdesk.crm import services
from helpdesk.crm.connections import CrmConnection, CrmKind
from helpdesk.crm.links import CrmLink
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow

log = logging.getLogger(__name__)

RULE_LABELS = {
    "email": _l("same e-mail address"),
    "phone": _l("same phone number"),
    "contact_company": _l("the contact's company in the CRM"),
    "domain": _l("same mail domain"),
    "tax_id": _l("same tax id"),
    "agent": _l("chosen by an agent"),
}


def _rule_label(rule: str | None) -> str | None:
    """The rule's label as plain text (a lazy string would reach the page unescaped)."""
    label = RULE_LABELS.get(rule) if rule else None
    return str(label) if label is not None else None


@dataclass
class PanelEntry:
    """One connection's view of the requester and their organization."""

    connection: CrmConnection
    link: CrmLink | None
    org_link: CrmLink | None
    contact: dict | None
    company: dict | None
    age: timedelta | None
    stale: bool
    pending: bool  # a sync was asked for and has not finished

    @property
    def age_text(self) -> str | None:
        if self.age is None:
            return None
        minutes = int(self.age.total_seconds() // 60)
        if minutes < 1:
            return _("just now")
        if minutes < 60:
            return _("%(n)s min ago", n=minutes)
        if minutes < 48 * 60:
            return _("%(n)s h ago", n=minutes // 60)
        days = minutes // (24 * 60)
        return ngettext("%(num)s day ago", "%(num)s days ago", days)

    @property
    def reason(self) -> str | None:
        return _rule_label(self.link.match_rule if self.link else None)

    @property
    def company_reason(self) -> str | None:
        if self.org_link is not None and self.org_link.match_rule:
            return _rule_label(self.org_link.match_rule)
        return _rule_label(((self.link.snapshot or {}) if self.link else {}).get("company_rule"))


def _links(connection_id: int, contact: Contact, org: Organization | None):
    rows = db.session.execute(
        select(CrmLink).where(
            CrmLink.connection_id == connection_id,
            (CrmLink.contact_id == contact.id)
            | (CrmLink.organization_id == (org.id if org else -1)),
        )
    ).scalars()
    link = org_link = None
    for row in rows:
        if row.contact_id == contact.id:
            link = row
        else:
            org_link = row
    return link, org_link


def _wants_sync(connection: CrmConnection, link: CrmLink | None, now) -> bool:
    if link is None:
        return True
    if link.held_by_agent or link.external_id is not None:
        return False
    # Nothing matched last time: look again once the answer is as old as a snapshot may be.
    recent = link.refresh_requested_at or link.snapshot_at
    return recent is None or now - recent > timedelta(seconds=connection.snapshot_ttl)


def _queue_syncs(connection, contact, link, org_link, now) -> CrmLink | None:
    """Ask the background for what the page lacks; the link row it made, if any."""
    if _wants_sync(connection, link, now):
        return services.request_link(connection, contact)
    if link.is_stale(connection.snapshot_ttl, now):
        services.request_refresh(link)
    if org_link is not None and org_link.is_stale(connection.snapshot_ttl, now):
        services.request_refresh(org_link)
    return link


def _entry(connection, contact, org, now, may_queue: bool) -> PanelEntry:
    link, org_link = _links(connection.id, contact, org)
    if may_queue:
        try:
            with db.session.begin_nested():
                link = _queue_syncs(connection, contact, link, org_link, now)
        except SQLAlchemyError:  # another page view queued it at the same moment
            log.info("CRM sync for contact %s was queued elsewhere", contact.id)
            link, org_link = _links(connection.id, contact, org)
    snapshot = (link.snapshot or {}) if link is not None and link.external_id else {}
    org_snapshot = (
        (org_link.snapshot or {}) if org_link is not None and org_link.external_id else {}
    )
    return PanelEntry(
        connection=connection,
        link=link,
        org_link=org_link,
        contact=snapshot.get("contact"),
        company=org_snapshot.get("company") or snapshot.get("company"),
        age=now - link.snapshot_at if link is not None and link.snapshot_at else None,
        stale=link is not None and link.is_stale(connection.snapshot_ttl, now),
        pending=link is None or link.refresh_requested_at is not None,
    )


def crm_panel(ticket) -> dict:
    """The client panel's data for a ticket's requester."""
    contact = ticket.requester
    org = contact.organization
    now = utcnow()
    connections = list(
        db.session.execute(
            select(CrmConnection)
            .where(CrmConnection.active.is_(True), CrmConnection.kind != CrmKind.BUILTIN)
            .order_by(CrmConnection.id)
        ).scalars()
    )
    # The page commits only its own sync requests, never a change its view left pending
    # (views here commit or roll back before they render).
    session = db.session
    pending = (
        session.new or session.dirty or session.deleted or session.info.get(outbox.SESSION_KEY)
    )
    may_queue = not pending
    entries = [_entry(c, contact, org, now, may_queue) for c in connections]
    if may_queue and entries:
        try:
            db.session.commit()  # the queued syncs must outlive the page
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("could not queue CRM syncs for ticket %s", ticket.id)
    return {"contact": contact, "organization": org, "entries": entries}
