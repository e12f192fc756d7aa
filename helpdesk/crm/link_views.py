"""The client panel's actions: confirm, change or remove a requester's CRM link."""

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _

from helpdesk.accounts.auth import current_actor
from helpdesk.agent.common import refuse
from helpdesk.contacts.models import Contact
from helpdesk.crm import services
from helpdesk.crm.connections import CrmConnection
from helpdesk.crm.links import CrmLink
from helpdesk.crm.views import back, bp
from helpdesk.errors import DomainError
from helpdesk.extensions import db


def _done(message: str):
    db.session.commit()
    flash(message, "info")
    return redirect(back(url_for("agent.queue")), 303)


def _refused(exc: DomainError):
    refuse(exc)  # rolls back and flashes the reason, shown on the page we go back to
    return redirect(back(url_for("agent.queue")), 303)


@bp.post("/links/<int:link_id>/confirm")
def confirm_link(link_id: int):
    link = db.get_or_404(CrmLink, link_id)
    try:
        services.confirm_link(current_actor(), link)
    except DomainError as exc:
        return _refused(exc)
    return _done(_("Link confirmed; the automatic matching will leave it alone."))


@bp.post("/links/<int:link_id>/change")
def change_link(link_id: int):
    link = db.get_or_404(CrmLink, link_id)
    try:
        services.set_link(current_actor(), link, request.form.get("external_id", ""))
    except DomainError as exc:
        return _refused(exc)
    return _done(_("Linked; its details are being fetched from the CRM."))


@bp.post("/links/<int:link_id>/unlink")
def unlink(link_id: int):
    link = db.get_or_404(CrmLink, link_id)
    try:
        services.unlink(current_actor(), link)
    except DomainError as exc:
        return _refused(exc)
    return _done(_("Link removed; it will not be matched again automatically."))


@bp.post("/connections/<int:connection_id>/contacts/<int:contact_id>/link")
def link_contact(connection_id: int, contact_id: int):
    connection = db.get_or_404(CrmConnection, connection_id)
    contact = db.get_or_404(Contact, contact_id)
    try:
        services.link_by_hand(
            current_actor(), connection, contact, request.form.get("external_id", "")
        )
    except DomainError as exc:
        return _refused(exc)
    return _done(_("Linked; its details are being fetched from the CRM."))
