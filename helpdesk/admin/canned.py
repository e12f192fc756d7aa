"""Administration: canned responses, shared with every agent or an admin's own."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from helpdesk.accounts.auth import current_actor
from helpdesk.admin import add_section, bp
from helpdesk.agent.common import form_errors, refuse
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.tickets import canned
from helpdesk.validation import BODY_MAX


class CannedForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=canned.TITLE_MAX)])
    body = TextAreaField(_l("Text"), validators=[DataRequired(), Length(max=BODY_MAX)])
    personal = BooleanField(_l("Only for me (personal)"))


class DeleteForm(FlaskForm):
    pass


def _list():
    return redirect(url_for("admin.canned_responses"))


def _preview(form: CannedForm) -> str | None:
    """The text with example values, when the form asked for a preview."""
    if "preview" not in request.form or not form.body.data:
        return None
    return canned.preview(form.body.data, current_actor().user.name)


def _edit_page(form: CannedForm, response=None, status: int = 200):
    return render_template(
        "admin/canned_edit.html",
        form=form,
        response=response,
        preview=_preview(form),
        placeholders=canned.PLACEHOLDERS,
    ), status


@bp.get("/canned")
def canned_responses():
    actor = current_actor()
    return render_template(
        "admin/canned.html",
        responses=canned.manageable_canned(actor),
        preview=lambda body: canned.preview(body, actor.user.name),
        delete_form=DeleteForm(),
    )


@bp.route("/canned/new", methods=["GET", "POST"])
def new_canned_response():
    form = CannedForm()
    if request.method == "GET" or "preview" in request.form:
        return _edit_page(form)
    if not form.validate_on_submit():
        form_errors(form)
        return _edit_page(form, status=400)
    try:
        response = canned.create_canned_response(
            current_actor(),
            title=form.title.data,
            body=form.body.data,
            personal=form.personal.data,
        )
    except DomainError as exc:
        return _edit_page(form, status=refuse(exc))
    db.session.commit()
    flash(_("Added the canned response “%(title)s”.", title=response.title), "info")
    return _list()


@bp.route("/canned/<int:canned_id>", methods=["GET", "POST"])
def edit_canned_response(canned_id: int):
    actor = current_actor()
    response = canned.find_manageable(actor, canned_id)
    form = CannedForm(obj=response if request.method == "GET" else None)
    if request.method == "GET" or "preview" in request.form:
        return _edit_page(form, response)
    if not form.validate_on_submit():
        form_errors(form)
        return _edit_page(form, response, 400)
    try:
        canned.update_canned_response(actor, response, title=form.title.data, body=form.body.data)
    except DomainError as exc:
        return _edit_page(form, response, refuse(exc))
    db.session.commit()
    flash(_("Saved the canned response “%(title)s”.", title=response.title), "info")
    return _list()


@bp.post("/canned/<int:canned_id>/delete")
def delete_canned_response(canned_id: int):
    actor = current_actor()
    response = canned.find_manageable(actor, canned_id)
    if not DeleteForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return _list()
    title = response.title
    try:
        canned.delete_canned_response(actor, response)
    except DomainError as exc:
        refuse(exc)
        return _list()
    db.session.commit()
    flash(_("Deleted the canned response “%(title)s”.", title=title), "info")
    return _list()


add_section(
    _l("Canned responses"),
    "admin.canned_responses",
    _l("Reusable replies with the customer's name and the ticket number filled in."),
    order=30,
)
