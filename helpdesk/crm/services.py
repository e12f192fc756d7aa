"""What agents do with CRM links (confirm, change, unlink), and asking the background to
refresh what the ticket page shows. Nothing here calls a CRM."""

import re
from datetime import timedelta

from helpdesk import outbox
from helpdesk.contacts.models import Contact
from helpdesk.crm import sync
from helpdesk.crm.adapters import adapter_for
from helpdesk.crm.connections import CrmConnection
from helpdesk.crm.links import CrmLink
from helpdesk.crm.matching import CONFIDENCE, Rule
from helpdesk.crm.protocol import CrmError
from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.timeutil import utcnow

EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
# A refresh asked for and not yet done is asked again only after this long.
ASK_AGAIN_AFTER = timedelta(minutes=5)


def _require_staff(actor) -> None:
    if not actor.is_staff:
        raise PermissionDenied("Only agents can change CRM links.")


def _decided_by(link: CrmLink, actor) -> None:
    link.agent_id = actor.user.id
    link.updated_at = utcnow()


def confirm_link(actor, link: CrmLink) -> None:
    """The agent says the automatic match is right: it is kept from now on."""
    _require_staff(actor)
    if link.external_id is None:
        raise ValidationError("There is no linked record to confirm; choose one instead.")
    link.confirmed_by_agent = True
    _decided_by(link, actor)
    db.session.flush()


def clean_external_id(value: str | None) -> str:
    external_id = (value or "").strip()
    if not EXTERNAL_ID.match(external_id):
        raise ValidationError(
            "Give the record's id in the CRM (letters, digits, - _ . :).",
            {"external_id": "Invalid."},
        )
    return external_id


def set_link(actor, link: CrmLink, external_id: str) -> None:
    """Link to the record the agent chose; its details are fetched in the background."""
    _require_staff(actor)
    external_id = clean_external_id(external_id)
    try:
        url = adapter_for(link.connection).record_url(link.subject, external_id)
    except CrmError:
        url = None  # the connection lacks credentials: the link is still the agent's choice
    link.external_id = external_id
    link.url = url
    link.match_rule = Rule.AGENT.value
    link.confidence = CONFIDENCE[Rule.AGENT]
    link.set_by_agent, link.confirmed_by_agent, link.unlinked_by_agent = True, False, False
    link.snapshot = None
    _decided_by(link, actor)
    db.session.flush()
    request_refresh(link, force=True)


def unlink(actor, link: CrmLink) -> None:
    """The requester is not this CRM record; the automatic matching will not link it again."""
    _require_staff(actor)
    link.external_id = None
    link.url = None
    link.match_rule = None
    link.confidence = None
    link.snapshot = None
    link.unlinked_by_agent, link.confirmed_by_agent, link.set_by_agent = True, False, False
    _decided_by(link, actor)
    db.session.flush()


def link_by_hand(actor, connection: CrmConnection, contact: Contact, external_id: str) -> CrmLink:
    """Link a requester the background has not matched (or not yet tried)."""
    _require_staff(actor)
    link = sync.link_for(connection.id, contact)
    set_link(actor, link, external_id)
    return link


def request_refresh(link: CrmLink, force: bool = False) -> bool:
    """Queue a background refresh of a stale snapshot, unless one was asked for lately."""
    now = utcnow()
    if (
        not force
        and link.refresh_requested_at
        and now - link.refresh_requested_at < ASK_AGAIN_AFTER
    ):
        return False
    if not force and not link.is_stale(link.connection.snapshot_ttl, now):
        return False
    link.refresh_requested_at = now
    outbox.enqueue(sync.REFRESH, {"link_id": link.id})
    return True


def request_link(connection: CrmConnection, contact: Contact) -> CrmLink:
    """Queue matching for a requester shown before any sync linked them."""
    link = sync.link_for(connection.id, contact)
    link.refresh_requested_at = utcnow()
    outbox.enqueue(sync.LINK, {"connection_id": connection.id, "contact_id": contact.id})
    return link
