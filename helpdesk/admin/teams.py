"""Administration: teams, their members and their tickets."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from helpdesk.accounts import admin as people
from helpdesk.accounts.auth import current_actor
from helpdesk.accounts.models import Team, User
from helpdesk.admin import add_section, bp
from helpdesk.admin.people import staff
from helpdesk.admin.people_forms import ActionForm, TeamForm
from helpdesk.agent.common import form_errors, refuse, teams
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.tickets.models import Ticket
from helpdesk.tickets.states import OPEN_STATUSES


def _open_per_team() -> dict[int, int]:
    rows = db.session.execute(
        select(Ticket.team_id, func.count())
        .where(Ticket.team_id.is_not(None), Ticket.status.in_(list(OPEN_STATUSES)))
        .group_by(Ticket.team_id)
    )
    return dict(rows.all())


def _members(ids: list[int]) -> list[User]:
    if not ids:
        return []
    return list(db.session.execute(select(User).where(User.id.in_(ids))).scalars())


def _form() -> TeamForm:
    form = TeamForm()
    form.members.choices = [
        (u.id, u.name if u.active else _("%(name)s (deactivated)", name=u.name)) for u in staff()
    ]
    return form


def _list_page(form: TeamForm, status: int = 200):
    page = render_template(
        "admin/teams.html", rows=teams(), open_counts=_open_per_team(), form=form
    )
    return page, status


@bp.get("/teams")
def teams_page():
    return _list_page(_form())


@bp.post("/teams")
def new_team():
    form = _form()
    if not form.validate_on_submit():
        form_errors(form)
        return _list_page(form, 400)
    try:
        team = people.create_team(current_actor(), form.name.data, _members(form.members.data))
    except DomainError as exc:
        return _list_page(form, refuse(exc))
    db.session.commit()
    flash(_("The team %(name)s is created.", name=team.name), "info")
    return redirect(url_for("admin.teams_page"), 303)


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
def team(team_id: int):
    team = db.session.get(Team, team_id) or abort(404)
    form = _form()
    if request.method == "GET":
        form.name.data = team.name
        form.members.data = [m.id for m in team.members]
    status = 200
    if form.validate_on_submit():
        actor = current_actor()
        try:
            people.rename_team(actor, team, form.name.data)
            people.set_team_members(actor, team, _members(form.members.data))
        except DomainError as exc:
            status = refuse(exc)
            team = db.session.get(Team, team_id)
        else:
            db.session.commit()
            flash(_("The team %(name)s is saved.", name=team.name), "info")
            return redirect(url_for("admin.teams_page"), 303)
    elif request.method == "POST":
        form_errors(form)
        status = 400
    page = render_template(
        "admin/teams_edit.html",
        team=team,
        form=form,
        ticket_count=people.team_ticket_count(team),
        action=ActionForm(),
    )
    return page, status


@bp.post("/teams/<int:team_id>/delete")
def delete_team(team_id: int):
    team = db.session.get(Team, team_id) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    name = team.name
    try:
        people.delete_team(current_actor(), team)
    except DomainError as exc:
        refuse(exc)
        return redirect(url_for("admin.team", team_id=team_id), 303)
    db.session.commit()
    flash(_("The team %(name)s is deleted.", name=name), "info")
    return redirect(url_for("admin.teams_page"), 303)


add_section(
    _l("Teams"),
    "admin.teams_page",
    _l("Create, rename and staff teams; delete the ones no ticket uses."),
    order=11,
)
