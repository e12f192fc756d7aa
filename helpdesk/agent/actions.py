"""Working a ticket: its fields, tags, Cc, merge, split, spam and delete."""

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _

from helpdesk.accounts.auth import current_actor
from helpdesk.accounts.models import Team, User
from helpdesk.agent import bp
from helpdesk.agent.common import form_errors, refuse
from helpdesk.agent.display import label_for
from helpdesk.agent.forms import (
    FieldsForm,
    MergeForm,
    ParticipantForm,
    SpamForm,
    SplitForm,
    TagsForm,
    VersionForm,
)
from helpdesk.agent.ticket import render_ticket
from helpdesk.errors import DomainError, NotFound, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets import links, services
from helpdesk.tickets.collisions import check_version
from helpdesk.tickets.editing import KEEP, update_fields
from helpdesk.tickets.models import Message


def _back(number: int):
    return redirect(url_for("agent.ticket", number=number))


def _user(value: str | None):
    if value in (None, ""):
        return KEEP
    if value == "none":
        return None
    user = db.session.get(User, int(value)) if value.isdigit() else None
    if user is None:
        raise ValidationError("Choose an agent from the list.", {"assignee": _("Unknown.")})
    return user


def _team(value: str | None):
    if value in (None, ""):
        return KEEP
    if value == "none":
        return None
    team = db.session.get(Team, int(value)) if value.isdigit() else None
    if team is None:
        raise ValidationError("Choose a team from the list.", {"team": _("Unknown.")})
    return team


def _failed(number: int, exc: DomainError, **forms):
    """Answer a refused change with the page as it is now, saying why."""
    status = refuse(exc)
    return render_ticket(services.get_ticket(current_actor(), number), status, **forms)


@bp.post("/tickets/<int:number>/fields")
def update_ticket_fields(number: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    form = FieldsForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _back(number)
    try:
        changed = update_fields(
            ticket,
            actor,
            loaded_version=form.version.data,
            status=form.status.data or None,
            priority=form.priority.data or None,
            assignee=_user(form.assignee.data),
            team=_team(form.team.data),
        )
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    if changed:
        fields = ", ".join(label_for("field", name) for name in changed)
        flash(_("Saved: %(fields)s.", fields=fields), "info")
    else:
        flash(_("Nothing changed."), "info")
    return _back(number)


@bp.post("/tickets/<int:number>/assign-to-me")
def assign_to_me(number: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    form = VersionForm()
    try:
        update_fields(ticket, actor, loaded_version=form.version.data, assignee=actor.user)
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    flash(_("#%(number)s is yours.", number=number), "info")
    return _back(number)


@bp.post("/tickets/<int:number>/tags")
def tags(number: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    form = TagsForm()
    add = (form.add.data or "").replace(",", " ").split()
    remove = [request.form["remove"]] if request.form.get("remove") else []
    try:
        services.tag(ticket, actor, add=add, remove=remove)
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    return _back(number)


@bp.post("/tickets/<int:number>/participants")
def add_participant(number: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    form = ParticipantForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _back(number)
    try:
        contact = services.add_participant(
            ticket, actor, email=form.email.data, name=form.name.data or None
        )
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    flash(_("%(address)s is copied in.", address=contact.primary_email), "info")
    return _back(number)


@bp.post("/tickets/<int:number>/participants/<int:contact_id>/remove")
def remove_participant(number: int, contact_id: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    try:
        services.remove_participant(ticket, actor, contact_id=contact_id)
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    flash(_("No longer copied in."), "info")
    return _back(number)


@bp.post("/tickets/<int:number>/merge")
def merge(number: int):
    actor = current_actor()
    source = services.get_ticket(actor, number)
    form = MergeForm()
    target_number = (form.target.data or "").strip().lstrip("#")
    try:
        if not target_number.isdigit():
            raise ValidationError("Give the number of the ticket to merge into.")
        check_version(source, form.version.data)
        target = services.get_ticket(actor, int(target_number))
        services.merge(source, target, actor)
    except DomainError as exc:
        return _failed(number, exc, merge_form=form)
    db.session.commit()
    flash(_("#%(number)s was merged into this ticket.", number=number), "info")
    return redirect(url_for("agent.ticket", number=target.number))


@bp.post("/tickets/<int:number>/messages/<int:message_id>/split")
def split(number: int, message_id: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    message = db.session.get(Message, message_id)
    form = SplitForm()
    try:
        if message is None or message.ticket_id != ticket.id:
            raise NotFound("That message is not on this ticket.")
        new = services.split_message(message, actor, subject=form.subject.data or None)
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    flash(_("The message is now ticket #%(number)s.", number=new.number), "info")
    return redirect(url_for("agent.ticket", number=new.number))


@bp.post("/tickets/<int:number>/spam")
def spam(number: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    form = SpamForm()
    try:
        blocked = services.mark_spam(ticket, actor, block=form.block.data or "address")
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    if blocked:
        closed = _(
            "#%(number)s was closed as spam; mail from %(blocked)s is blocked.",
            number=number,
            blocked=blocked,
        )
    else:
        closed = _("#%(number)s was closed as spam.", number=number)
    flash(closed, "info")
    return redirect(url_for("agent.queue"))


@bp.post("/tickets/<int:number>/revoke-links")
def revoke_links(number: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    try:
        links.revoke_links(ticket, actor)
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    flash(
        _("Every password-free link to #%(number)s sent so far no longer works.", number=number),
        "info",
    )
    return _back(number)


@bp.post("/tickets/<int:number>/delete")
def delete(number: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    try:
        services.delete_ticket(ticket, actor)
    except DomainError as exc:
        return _failed(number, exc)
    db.session.commit()
    flash(_("#%(number)s was deleted.", number=number), "info")
    return redirect(url_for("agent.queue"))
