"""Administration: customer accounts and contacts (the records themselves live in the CRM pages)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from helpdesk.accounts import admin as people
from helpdesk.accounts.auth import current_actor
from helpdesk.accounts.models import User
from helpdesk.admin import add_section, bp
from helpdesk.admin.people_forms import ActionForm
from helpdesk.agent.common import local_target, refuse
from helpdesk.contacts.models import Contact, ContactEmail, Organization
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from helpdesk.validation import PEOPLE_QUERY_MAX

PAGE_SIZE = 50


def find_contacts(q: str, accounts_only: bool, page: int) -> list[Contact]:
    """Contacts whose name, an address or organization matches `q`; one extra for "more"."""
    query = select(Contact).outerjoin(Organization, Contact.organization_id == Organization.id)
    if accounts_only:
        query = query.where(Contact.user.has())
    if q:
        pattern = f"%{q.lower()}%"
        by_address = select(ContactEmail.contact_id).where(
            func.lower(ContactEmail.email).like(pattern)
        )
        query = query.where(
            or_(
                func.lower(Contact.name).like(pattern),
                Contact.id.in_(by_address),
                func.lower(Organization.name).like(pattern),
            )
        )
    query = query.order_by(Contact.name, Contact.id).options(
        selectinload(Contact.emails), selectinload(Contact.user), selectinload(Contact.organization)
    )
    query = query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    return list(db.session.execute(query).scalars())


def ticket_counts(contacts: list[Contact]) -> dict[int, int]:
    if not contacts:
        return {}
    rows = db.session.execute(
        select(Ticket.requester_id, func.count())
        .where(Ticket.requester_id.in_([c.id for c in contacts]))
        .group_by(Ticket.requester_id)
    )
    return dict(rows.all())


@bp.get("/customers")
def customers():
    q = request.args.get("q", "").strip()[:PEOPLE_QUERY_MAX]
    accounts_only = request.args.get("accounts") == "1"
    page = max(1, request.args.get("page", 1, type=int) or 1)
    rows = find_contacts(q, accounts_only, page)
    shown = rows[:PAGE_SIZE]
    return render_template(
        "admin/customers.html",
        rows=shown,
        counts=ticket_counts(shown),
        more=len(rows) > PAGE_SIZE,
        q=q,
        accounts_only=accounts_only,
        page=page,
        action=ActionForm(),
    )


@bp.post("/customers/<int:user_id>/manager")
def org_manager(user_id: int):
    """Make a customer their organization's manager (sees all its tickets), or stop it."""
    user = db.session.get(User, user_id) or abort(404)
    form = ActionForm()
    target = local_target(form.next.data, url_for("admin.customers"))
    manager = request.form.get("manager") == "1"
    if form.validate_on_submit():
        try:
            people.set_org_manager(current_actor(), user, manager)
        except DomainError as exc:
            refuse(exc)
            return redirect(target, 303)
        db.session.commit()
        if manager:
            flash(
                _("%(name)s now sees every ticket of their organization.", name=user.name),
                "info",
            )
        else:
            flash(_("%(name)s now sees only their own tickets.", name=user.name), "info")
    return redirect(target, 303)


add_section(
    _l("Customers"),
    "admin.customers",
    _l("Find customer accounts, deactivate them, choose organization managers."),
    order=12,
)
