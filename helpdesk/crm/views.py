"""The console's client pages under /agent/crm/: organizations and contacts of the built-in
CRM, the client panel's link actions, and (admins) the CRM connections."""

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from helpdesk.accounts.auth import current_actor
from helpdesk.agent.common import form_errors, local_target, refuse
from helpdesk.agent.forms import as_choices
from helpdesk.agent.nav import add_nav_item, nav_for
from helpdesk.contacts.models import Contact, ContactEmail, Organization
from helpdesk.crm import records
from helpdesk.crm.forms import ContactForm, OrganizationForm, lines
from helpdesk.crm.panel import RULE_LABELS, crm_panel
from helpdesk.errors import DomainError
from helpdesk.extensions import db

bp = Blueprint("crm", __name__)
PAGE_SIZE = 50


@bp.before_request
@login_required
def require_staff():
    if not current_user.is_staff:
        abort(404)


@bp.context_processor
def console_helpers():
    from helpdesk.agent.display import ago, short_time

    return {"console_nav": nav_for(current_actor()), "ago": ago, "short_time": short_time}


def _search(query, columns, q: str):
    if not q:
        return query
    pattern = f"%{q.lower()}%"
    return query.where(or_(*(func.lower(c).like(pattern) for c in columns)))


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int) or 1)


# Organizations -------------------------------------------------------------------------


@bp.get("/")
def index():
    return redirect(url_for("crm.organizations"))


@bp.get("/organizations")
def organizations():
    q = request.args.get("q", "").strip()
    query = _search(select(Organization), [Organization.name, Organization.tax_id], q)
    page = _page()
    rows = list(
        db.session.execute(
            query.order_by(Organization.name).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
        ).scalars()
    )
    return render_template(
        "crm/organizations.html", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, q=q, page=page
    )


def _fill_organization(form: OrganizationForm, org: Organization) -> None:
    form.name.data = org.name
    form.domains.data = "\n".join(d.domain for d in org.domains)
    form.tax_id.data = org.tax_id or ""
    form.phones.data = "\n".join(p.phone for p in org.phones)
    form.notes.data = org.notes or ""


def _save_organization(org: Organization | None):
    form = OrganizationForm()
    if request.method == "GET":
        if org is not None:
            _fill_organization(form, org)
        return render_template("crm/organization.html", form=form, org=org)
    if not form.validate_on_submit():
        form_errors(form)
        return render_template("crm/organization.html", form=form, org=org), 400
    try:
        saved = records.save_organization(
            current_actor(),
            org,
            name=form.name.data,
            domains=lines(form.domains.data),
            tax_id=form.tax_id.data,
            phones=lines(form.phones.data),
            notes=form.notes.data,
        )
    except DomainError as exc:
        status = refuse(exc)  # flashes the reason before the page is drawn
        return render_template("crm/organization.html", form=form, org=org), status
    db.session.commit()
    flash(_("%(name)s saved.", name=saved.name), "info")
    return redirect(url_for("crm.organization", org_id=saved.id))


@bp.route("/organizations/new", methods=["GET", "POST"])
def new_organization():
    return _save_organization(None)


@bp.route("/organizations/<int:org_id>", methods=["GET", "POST"])
def organization(org_id: int):
    return _save_organization(db.get_or_404(Organization, org_id))


# Contacts ------------------------------------------------------------------------------


@bp.get("/contacts")
def contacts():
    q = request.args.get("q", "").strip()
    query = select(Contact).outerjoin(ContactEmail).distinct()
    query = _search(query, [Contact.name, ContactEmail.email], q)
    page = _page()
    rows = list(
        db.session.execute(
            query.order_by(Contact.name, Contact.id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        ).scalars()
    )
    return render_template(
        "crm/contacts.html", rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, q=q, page=page
    )


def _organization_choices() -> list:
    names = db.session.execute(
        select(Organization.id, Organization.name).order_by(Organization.name)
    )
    return as_choices([("", "—")] + [(str(i), n) for i, n in names])


def _save_contact(contact: Contact | None):
    form = ContactForm()
    form.organization.choices = _organization_choices()
    if request.method == "GET":
        if contact is not None:
            form.name.data = contact.name
            form.emails.data = "\n".join(e.email for e in contact.emails)
            form.phones.data = "\n".join(p.phone for p in contact.phones)
            form.organization.data = str(contact.organization_id or "")
        return render_template("crm/contact.html", form=form, contact=contact)
    if not form.validate_on_submit():
        form_errors(form)
        return render_template("crm/contact.html", form=form, contact=contact), 400
    org_id = form.organization.data
    org = db.session.get(Organization, int(org_id)) if org_id and org_id.isdigit() else None
    try:
        saved = records.save_contact(
            current_actor(),
            contact,
            name=form.name.data,
            emails=lines(form.emails.data),
            phones=lines(form.phones.data),
            organization=org,
        )
    except DomainError as exc:
        status = refuse(exc)
        return render_template("crm/contact.html", form=form, contact=contact), status
    db.session.commit()
    flash(_("%(name)s saved.", name=saved.name), "info")
    return redirect(url_for("crm.contact", contact_id=saved.id))


@bp.route("/contacts/new", methods=["GET", "POST"])
def new_contact():
    return _save_contact(None)


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
def contact(contact_id: int):
    return _save_contact(db.get_or_404(Contact, contact_id))


def back(fallback: str) -> str:
    return local_target(request.form.get("next") or request.args.get("next"), fallback)


def init_app(app: Flask) -> None:
    """Register the console pages, the webhook receiver and the panel helper."""
    from helpdesk.crm import admin, link_views  # noqa: F401  (their routes)

    app.register_blueprint(bp, url_prefix="/agent/crm")
    app.register_blueprint(admin.hooks, url_prefix="/crm")
    app.add_template_global(crm_panel, "crm_panel")
    app.add_template_global(RULE_LABELS, "crm_rule_labels")


add_nav_item(_l("Clients"), "crm.organizations", order=40)
add_nav_item(_l("CRM"), "crm.connections", admin_only=True, order=90)
