"""One ticket: its page, replies and internal notes, and new tickets for customers."""

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from helpdesk.accounts.auth import current_actor
from helpdesk.accounts.models import Team
from helpdesk.agent import bp
from helpdesk.agent.common import (
    assignee_choices,
    body_html,
    form_errors,
    refuse,
    team_choices,
    upload_limits,
    uploads_from_request,
)
from helpdesk.agent.forms import (
    FieldsForm,
    MergeForm,
    NewTicketForm,
    NoteForm,
    ParticipantForm,
    ReplyForm,
    SpamForm,
    SplitForm,
    TagsForm,
    VersionForm,
    as_choices,
)
from helpdesk.agent.history import history
from helpdesk.contacts.models import Contact
from helpdesk.contacts.services import find_or_create_contact
from helpdesk.errors import DomainError, ValidationError
from helpdesk.extensions import db
from helpdesk.tickets import canned, collisions, mentions, permissions, presence
from helpdesk.tickets.models import Channel, MessageKind, Priority, Ticket
from helpdesk.tickets.permissions import visible_tickets_filter
from helpdesk.tickets.services import add_reply, change_status, get_ticket, open_ticket

OTHER_TICKETS_SHOWN = 10


def _other_tickets(actor, ticket: Ticket) -> list[Ticket]:
    return list(
        db.session.execute(
            select(Ticket)
            .where(
                Ticket.requester_id == ticket.requester_id,
                Ticket.id != ticket.id,
                visible_tickets_filter(actor),
            )
            .order_by(Ticket.updated_at.desc(), Ticket.id.desc())
            .limit(OTHER_TICKETS_SHOWN)
        ).scalars()
    )


def _reply_form(actor, ticket: Ticket, form: ReplyForm | None = None) -> ReplyForm:
    form = form or ReplyForm(formdata=None)
    if form.last_seen.data is None:
        form.last_seen.data = collisions.last_message_id(ticket)
    choices = [("", "—")] + [(str(c.id), c.title) for c in canned.canned_for(actor)]
    form.canned.choices = as_choices(choices)
    return form


def _fields_form(ticket: Ticket) -> FieldsForm:
    form = FieldsForm(formdata=None)
    form.version.data = ticket.version
    form.status.data = ticket.status.value
    form.priority.data = ticket.priority.value
    form.assignee.choices = as_choices(assignee_choices())
    form.assignee.data = str(ticket.assignee_id) if ticket.assignee_id else "none"
    form.team.choices = as_choices(team_choices())
    form.team.data = str(ticket.team_id) if ticket.team_id else "none"
    return form


def _versioned(form_class, ticket: Ticket, form=None):
    """The form, carrying the version of the ticket as shown (a stale one is replaced)."""
    form = form or form_class(formdata=None)
    form.version.data = ticket.version
    return form


def render_ticket(ticket: Ticket, status: int = 200, **forms):
    """The ticket page; `forms` replace the blank ones (to show what was typed)."""
    actor = current_actor()
    entries = history(ticket)
    note_ids = [m.id for m in ticket.messages if m.kind == MessageKind.NOTE]
    page = render_template(
        "agent/ticket.html",
        ticket=ticket,
        entries=entries,
        mentioned=mentions.mentions_of(note_ids),
        others=presence.others_present(ticket, actor),
        other_tickets=_other_tickets(actor, ticket),
        reply_form=_reply_form(actor, ticket, forms.get("reply_form")),
        note_form=forms.get("note_form") or NoteForm(formdata=None),
        fields_form=_fields_form(ticket),
        version_form=_versioned(VersionForm, ticket),
        tags_form=TagsForm(formdata=None),
        participant_form=ParticipantForm(formdata=None),
        merge_form=_versioned(MergeForm, ticket, forms.get("merge_form")),
        split_form=SplitForm(formdata=None),
        spam_form=SpamForm(formdata=None),
        crossed=forms.get("crossed", []),
        can_delete=permissions.can_delete_ticket(actor),
        limits=upload_limits(),
    )
    return page, status


@bp.route("/tickets/<int:number>")
def ticket(number: int):
    actor = current_actor()
    ticket = get_ticket(actor, number)
    presence.record_presence(ticket, actor, presence.VIEWING)
    db.session.commit()
    return render_ticket(ticket)


@bp.post("/tickets/<int:number>/reply")
def reply(number: int):
    actor = current_actor()
    ticket = get_ticket(actor, number)
    form = ReplyForm()
    if request.form.get("insert_canned"):  # without JavaScript: the server fills it in
        return _insert_canned(actor, ticket, form)
    if not form.validate_on_submit() or not (form.body.data or "").strip():
        flash(_("Write the reply first."), "error")
        form_errors(form)
        return render_ticket(ticket, 400, reply_form=form)
    crossed = collisions.replies_since(ticket, actor, form.last_seen.data)
    if crossed and not form.confirm.data:
        flash(
            _(
                "Someone else replied since you opened this ticket. Read it below, then send"
                " yours anyway or change it."
            ),
            "warning",
        )
        return render_ticket(ticket, 409, reply_form=form, crossed=crossed)
    try:
        message = add_reply(
            ticket,
            actor,
            body=form.body.data,
            html=body_html(form.body.data),
            channel=Channel.AGENT,
            uploads=uploads_from_request(),
        )
        if form.status_after.data and form.status_after.data != ticket.status:
            change_status(ticket, actor, form.status_after.data)
    except DomainError as exc:
        return render_ticket(get_ticket(actor, number), refuse(exc), reply_form=form)
    presence.record_presence(ticket, actor, presence.VIEWING)
    db.session.commit()
    flash(_("Reply sent."), "info")
    return redirect(url_for("agent.ticket", number=ticket.number, _anchor=f"m{message.id}"))


def _insert_canned(actor, ticket: Ticket, form: ReplyForm):
    try:
        text = canned.fill_in(canned.get_canned(actor, int(form.canned.data or 0)), ticket, actor)
    except (DomainError, ValueError):
        flash(_("Choose a canned response first."), "error")
        return render_ticket(ticket, 400, reply_form=form)
    current = (form.body.data or "").rstrip()
    form.body.data = f"{current}\n\n{text}" if current else text
    return render_ticket(ticket, reply_form=form)


@bp.get("/tickets/<int:number>/canned/<int:canned_id>")
def canned_text(number: int, canned_id: int):
    """A canned response filled in for this ticket (agent.js puts it in the reply box)."""
    actor = current_actor()
    ticket = get_ticket(actor, number)
    response = canned.get_canned(actor, canned_id)
    return jsonify({"title": response.title, "text": canned.fill_in(response, ticket, actor)})


@bp.post("/tickets/<int:number>/note")
def note(number: int):
    actor = current_actor()
    ticket = get_ticket(actor, number)
    form = NoteForm()
    if not form.validate_on_submit():
        form_errors(form)
        return render_ticket(ticket, 400, note_form=form)
    try:
        result = mentions.add_note_with_mentions(
            ticket, actor, body=form.body.data, uploads=uploads_from_request()
        )
    except DomainError as exc:
        return render_ticket(get_ticket(actor, number), refuse(exc), note_form=form)
    db.session.commit()
    told = ", ".join(u.name for u in result.mentioned)
    if told:
        # The same in English for one name or more; other languages may differ.
        added = ngettext(
            "Note added; %(names)s will be told.",
            "Note added; %(names)s will be told.",
            len(result.mentioned),
            names=told,
        )
        flash(added, "info")
    else:
        flash(_("Note added."), "info")
    if result.unreachable:
        names = ", ".join(result.unreachable)
        flash(_("Not told (they cannot see this ticket): %(names)s.", names=names), "warning")
    anchor = f"m{result.message.id}"
    return redirect(url_for("agent.ticket", number=ticket.number, _anchor=anchor))


@bp.route("/tickets/new", methods=["GET", "POST"])
def new_ticket():
    """A ticket on behalf of a customer (a phone call, a walk-in)."""
    actor = current_actor()
    form = NewTicketForm()
    form.team.choices = as_choices([("", "—")] + team_choices()[1:])
    contact = _prefilled_contact(form)
    status = 200
    if form.validate_on_submit():
        try:
            requester = find_or_create_contact(form.email.data, form.name.data or None)
            ticket = open_ticket(
                actor,
                requester=requester,
                subject=form.subject.data,
                body=form.body.data,
                html=body_html(form.body.data),
                channel=Channel.AGENT,
                priority=Priority(form.priority.data),
                team=_team(form.team.data),
                uploads=uploads_from_request(),
            )
        except DomainError as exc:
            status = refuse(exc)
        else:
            db.session.commit()
            flash(
                _(
                    "Ticket #%(number)s created for %(name)s.",
                    number=ticket.number,
                    name=requester.name,
                ),
                "info",
            )
            return redirect(url_for("agent.ticket", number=ticket.number))
    elif request.method == "POST":
        form_errors(form)
        status = 400
    return render_template(
        "agent/new_ticket.html", form=form, contact=contact, limits=upload_limits()
    ), status


def _prefilled_contact(form: NewTicketForm) -> Contact | None:
    """?contact=<id> from a requester panel fills in who the ticket is for."""
    contact_id = request.args.get("contact", type=int)
    contact = db.session.get(Contact, contact_id) if contact_id else None
    if contact is not None and request.method == "GET":
        form.email.data = contact.primary_email
        form.name.data = contact.name
    return contact


def _team(value: str) -> Team | None:
    if not value or value == "none":
        return None
    team = db.session.get(Team, int(value)) if value.isdigit() else None
    if team is None:
        raise ValidationError("Choose a team from the list.", {"team": _("Unknown.")})
    return team
