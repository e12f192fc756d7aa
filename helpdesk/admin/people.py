"""Administration: agents and administrators, and (de)activating any account."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from helpdesk.accounts import admin as people
from helpdesk.accounts.auth import current_actor
from helpdesk.accounts.models import Team, User
from helpdesk.admin import add_section, bp
from helpdesk.admin.people_forms import ActionForm, NewStaffForm, StaffForm
from helpdesk.agent.common import form_errors, local_target, refuse, teams
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from helpdesk.tickets.states import OPEN_STATUSES


def staff() -> list[User]:
    return list(
        db.session.execute(
            select(User).where(User.role.in_(people.STAFF_ROLES)).order_by(User.name)
        ).scalars()
    )


def open_assigned() -> dict[int, int]:
    """Open tickets per assignee: a deactivated agent's are still theirs until moved."""
    rows = db.session.execute(
        select(Ticket.assignee_id, func.count())
        .where(Ticket.assignee_id.is_not(None), Ticket.status.in_(list(OPEN_STATUSES)))
        .group_by(Ticket.assignee_id)
    )
    return dict(rows.all())


def chosen_teams(ids: list[int]) -> list[Team]:
    if not ids:
        return []
    return list(db.session.execute(select(Team).where(Team.id.in_(ids))).scalars())


def _staff_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        abort(404)
    return user


@bp.get("/agents")
def agents():
    return render_template(
        "admin/agents.html",
        rows=staff(),
        open_counts=open_assigned(),
        me=current_actor().user,
        action=ActionForm(),
    )


@bp.route("/agents/new", methods=["GET", "POST"])
def new_agent():
    form = NewStaffForm()
    form.teams.choices = [(t.id, t.name) for t in teams()]
    status = 200
    if form.validate_on_submit():
        try:
            user = people.add_staff(
                current_actor(),
                form.email.data,
                form.name.data,
                form.role.data,
                chosen_teams(form.teams.data),
            )
        except DomainError as exc:
            status = refuse(exc)
        else:
            db.session.commit()
            flash(
                _(
                    "%(name)s is added; a link to choose a password is on its way.",
                    name=user.name,
                ),
                "info",
            )
            return redirect(url_for("admin.agents"))
    elif request.method == "POST":
        form_errors(form)
        status = 400
    return render_template("admin/agents_form.html", form=form, user=None), status


@bp.route("/agents/<int:user_id>", methods=["GET", "POST"])
def agent(user_id: int):
    user = _staff_user(user_id)
    form = StaffForm(obj=user if request.method == "GET" else None)
    form.teams.choices = [(t.id, t.name) for t in teams()]
    if request.method == "GET":
        form.role.data = user.role.value
        form.teams.data = [t.id for t in user.teams]
    status = 200
    if form.validate_on_submit():
        try:
            people.update_staff(
                current_actor(),
                user,
                name=form.name.data,
                role=form.role.data,
                teams=chosen_teams(form.teams.data),
            )
        except DomainError as exc:
            status = refuse(exc)
            user = _staff_user(user_id)
        else:
            db.session.commit()
            flash(_("%(name)s is saved.", name=user.name), "info")
            return redirect(url_for("admin.agents"))
    elif request.method == "POST":
        form_errors(form)
        status = 400
    page = render_template(
        "admin/agents_form.html",
        form=form,
        user=user,
        me=current_actor().user,
        open_count=open_assigned().get(user.id, 0),
        action=ActionForm(),
    )
    return page, status


@bp.post("/agents/<int:user_id>/welcome")
def agent_welcome(user_id: int):
    user = _staff_user(user_id)
    if ActionForm().validate_on_submit():
        try:
            people.resend_welcome(current_actor(), user)
        except DomainError as exc:
            refuse(exc)
            return redirect(url_for("admin.agent", user_id=user_id), 303)
        db.session.commit()
        flash(
            _("A new link to choose a password is on its way to %(email)s.", email=user.email),
            "info",
        )
    return redirect(url_for("admin.agent", user_id=user_id), 303)


@bp.post("/users/<int:user_id>/active")
def user_active(user_id: int):
    """Deactivate or reactivate any account; back to the page the button was on."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = ActionForm()
    fallback = url_for("admin.agents" if user.is_staff else "admin.customers")
    target = local_target(form.next.data, fallback)
    active = request.form.get("active") == "1"
    if form.validate_on_submit():
        try:
            people.set_active(current_actor(), user, active)
        except DomainError as exc:
            refuse(exc)
            return redirect(target, 303)
        db.session.commit()
        if active:
            flash(_("%(name)s is reactivated.", name=user.name), "info")
        else:
            flash(
                _("%(name)s is deactivated: they can no longer sign in.", name=user.name),
                "info",
            )
    return redirect(target, 303)


add_section(
    _l("Agents"),
    "admin.agents",
    _l("Add agents and administrators, change their roles and teams, deactivate them."),
    order=10,
)
