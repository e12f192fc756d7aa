"""CRM connections (admins), and the receiver for the CRMs' own webhooks."""

import json
import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select, update

from helpdesk.accounts.auth import current_actor
from helpdesk.agent.common import form_errors, refuse
from helpdesk.crm import setup
from helpdesk.crm.adapters import adapter_for
from helpdesk.crm.connections import CrmConnection, CrmKind
from helpdesk.crm.forms import ConnectionForm
from helpdesk.crm.links import CrmLink, Subject
from helpdesk.crm.protocol import CrmError
from helpdesk.crm.views import bp
from helpdesk.errors import DomainError
from helpdesk.extensions import csrf, db

hooks = Blueprint("crm_hooks", __name__)
csrf.exempt(hooks)  # the CRM signs its calls instead (verify_webhook)


def _require_admin():
    actor = current_actor()
    if not actor.is_admin:
        abort(404)
    return actor


def _connections() -> list[CrmConnection]:
    return list(db.session.execute(select(CrmConnection).order_by(CrmConnection.name)).scalars())


def _form_data(form: ConnectionForm) -> dict:
    return {
        "name": form.name.data,
        "kind": form.kind.data,
        "base_url": form.base_url.data,
        "secret": form.secret.data,
        "webhook_secret": form.webhook_secret.data,
        "snapshot_ttl": (form.snapshot_ttl.data or 60) * 60,
        "active": form.active.data,
    }


def _page(form: ConnectionForm, editing: CrmConnection | None = None, status: int = 200):
    page = render_template(
        "crm/connections.html", connections=_connections(), form=form, editing=editing
    )
    return page, status


@bp.get("/connections")
def connections():
    _require_admin()
    return _page(ConnectionForm(formdata=None))


@bp.post("/connections")
def create_connection():
    actor = _require_admin()
    form = ConnectionForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _page(form, status=400)
    try:
        connection = setup.save_connection(actor, None, _form_data(form))
    except DomainError as exc:
        return _page(form, status=refuse(exc))
    db.session.commit()
    flash(
        _(
            "Connection %(name)s added. Test it to check the credentials.",
            name=connection.name,
        ),
        "info",
    )
    return redirect(url_for("crm.connections"), 303)


@bp.route("/connections/<int:connection_id>", methods=["GET", "POST"])
def edit_connection(connection_id: int):
    actor = _require_admin()
    connection = db.get_or_404(CrmConnection, connection_id)
    if request.method == "GET":
        form = ConnectionForm(formdata=None, obj=connection)
        form.snapshot_ttl.data = connection.snapshot_ttl // 60
        form.kind.data = connection.kind.value
        return _page(form, connection)
    form = ConnectionForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _page(form, connection, 400)
    try:
        setup.save_connection(actor, connection, _form_data(form))
    except DomainError as exc:
        return _page(form, connection, refuse(exc))
    db.session.commit()
    flash(_("Connection %(name)s saved.", name=connection.name), "info")
    return redirect(url_for("crm.connections"), 303)


@bp.post("/connections/<int:connection_id>/test")
def check_connection(connection_id: int):
    actor = _require_admin()
    connection = db.get_or_404(CrmConnection, connection_id)
    try:
        description = setup.check_connection(actor, connection)
    except CrmError as exc:
        db.session.commit()  # the failure is recorded on the connection
        flash(f"{connection.name}: {exc.message}", "error")
    else:
        db.session.commit()
        flash(
            _("%(name)s works: %(description)s.", name=connection.name, description=description),
            "info",
        )
    return redirect(url_for("crm.connections"), 303)


@bp.post("/connections/<int:connection_id>/delete")
def delete_connection(connection_id: int):
    actor = _require_admin()
    connection = db.get_or_404(CrmConnection, connection_id)
    setup.delete_connection(actor, connection)
    db.session.commit()
    flash(_("Connection %(name)s deleted, with its links.", name=connection.name), "info")
    return redirect(url_for("crm.connections"), 303)


# Incoming webhooks -----------------------------------------------------------------------

BITRIX_EVENTS = {"ONCRMCONTACTUPDATE": Subject.CONTACT, "ONCRMCOMPANYUPDATE": Subject.ORGANIZATION}
BITRIX_EVENTS |= {"ONCRMCONTACTDELETE": Subject.CONTACT, "ONCRMCOMPANYDELETE": Subject.ORGANIZATION}


def _changed_records(connection: CrmConnection, body: bytes) -> list[tuple[Subject, str]]:
    """Which records the CRM says changed: [(subject, external id)]."""
    if connection.kind == CrmKind.HUBSPOT:
        try:
            events = json.loads(body or b"[]")
        except ValueError:
            return []
        changed = []
        for event in events if isinstance(events, list) else []:
            kind = str(event.get("subscriptionType", "")).split(".", 1)[0]
            subject = {"contact": Subject.CONTACT, "company": Subject.ORGANIZATION}.get(kind)
            if subject and event.get("objectId") is not None:
                changed.append((subject, str(event["objectId"])))
        return changed
    subject = BITRIX_EVENTS.get(request.form.get("event", "").upper())
    record_id = request.form.get("data[FIELDS][ID]", "")
    return [(subject, record_id)] if subject and re.fullmatch(r"\d+", record_id) else []


@hooks.post("/webhooks/<int:connection_id>")
def receive_webhook(connection_id: int):
    """A CRM says records changed: their snapshots are refreshed when next shown."""
    connection = db.session.get(CrmConnection, connection_id)
    if connection is None or not connection.active:
        abort(404)
    body = request.get_data(cache=True)
    try:
        verified = adapter_for(connection).verify_webhook(
            request.method, request.url, request.headers, body
        )
    except CrmError:
        verified = False
    if not verified:
        abort(401)
    changed = _changed_records(connection, body)
    for subject, external_id in changed:
        db.session.execute(
            update(CrmLink)
            .where(
                CrmLink.connection_id == connection.id,
                CrmLink.subject == subject,
                CrmLink.external_id == external_id,
            )
            .values(snapshot_at=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return {"received": len(changed)}, 200
