"""Inbound-mail pages for agents: quarantine, held spam, why a mail was threaded."""

import io

from flask import flash, g, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from helpdesk.accounts.auth import current_actor
from helpdesk.agent import bp
from helpdesk.agent.common import form_errors, local_target, refuse
from helpdesk.agent.nav import add_nav_item
from helpdesk.errors import DomainError, NotFound, ValidationError
from helpdesk.extensions import db
from helpdesk.mail import review
from helpdesk.mail.cli import LABELS
from helpdesk.mail.mailboxes import Mailbox, is_stalled
from helpdesk.mail.models import HELD_OUTCOMES, QUARANTINE_OUTCOMES, Outcome
from helpdesk.tickets import services
from helpdesk.tickets.models import Message
from helpdesk.tickets.moving import move_message

TICKET_NUMBER_MAX = 12


class ActionForm(FlaskForm):
    """Retry, discard, release, delete: nothing but the CSRF token and where to go back."""

    back = HiddenField(validators=[Length(max=500)])


class MoveForm(FlaskForm):
    target = StringField(
        _l("Ticket number"), validators=[DataRequired(), Length(max=TICKET_NUMBER_MAX)]
    )


def _label(outcome: str) -> str:
    """What became of a mail, in the agent's language (helpdesk.mail.cli.LABELS marks them)."""
    label = LABELS.get(outcome)
    return _(label) if label else outcome


@bp.context_processor
def inbound_helpers():
    return {
        "inbound_of": _inbound_of,
        "mail_label": _label,
        "mailbox_names": _mailbox_names,
        "stalled_mailboxes": _stalled_mailboxes,
    }


def _inbound_of(message: Message):
    """The received mail behind a message on the ticket page (loaded once per page)."""
    cache = g.setdefault("inbound_rows", {})
    if message.ticket_id not in cache:
        ids = [m.id for m in message.ticket.messages]
        cache[message.ticket_id] = review.inbound_of_messages(ids)
    return cache[message.ticket_id].get(message.id)


def _mailbox_names() -> dict[int, str]:
    if "mailbox_names" not in g:
        g.mailbox_names = dict(db.session.execute(select(Mailbox.id, Mailbox.name)).all())
    return g.mailbox_names


def _stalled_mailboxes() -> list[Mailbox]:
    """Stalled mailboxes, for admins only (others get none): looked up once per request."""
    if "stalled_mailboxes" not in g:
        actor = current_actor()
        g.stalled_mailboxes = []
        if actor is not None and actor.is_admin:
            mailboxes = db.session.execute(select(Mailbox).order_by(Mailbox.name)).scalars()
            g.stalled_mailboxes = [m for m in mailboxes if is_stalled(m)]
    return g.stalled_mailboxes


def _tabs() -> dict:
    return {
        "quarantine_count": review.quarantine_count(),
        "held_count": review.held_count(),
        "stalled": _stalled_mailboxes(),
        "action_form": ActionForm(formdata=None),
    }


@bp.get("/mail/quarantine")
def mail_quarantine():
    rows = review.quarantined(current_actor())
    return render_template("agent/inbound_quarantine.html", rows=rows, **_tabs())


@bp.get("/mail/spam")
def mail_spam():
    actor = current_actor()
    rows = review.held(actor)
    bounces = review.unattached_bounces(actor)
    return render_template("agent/inbound_spam.html", rows=rows, bounces=bounces, **_tabs())


@bp.get("/mail/<int:inbound_id>")
def mail_detail(inbound_id: int):
    actor = current_actor()
    row = review.get_inbound(actor, inbound_id)
    try:
        headers = review.header_text(actor, row)
        held = row.outcome in HELD_OUTCOMES or row.outcome in QUARANTINE_OUTCOMES
        preview = review.preview(actor, row) if held else None
    except NotFound as exc:
        headers, preview = exc.message, None
    return render_template(
        "agent/inbound_mail.html",
        row=row,
        headers=headers,
        preview=preview,
        in_quarantine=row.outcome in QUARANTINE_OUTCOMES,
        is_held=row.outcome in HELD_OUTCOMES,
        action_form=ActionForm(formdata=None),
    )


@bp.get("/mail/<int:inbound_id>/original.eml")
def mail_original(inbound_id: int):
    actor = current_actor()
    row = review.get_inbound(actor, inbound_id)
    response = send_file(
        io.BytesIO(review.original(actor, row)),
        mimetype="message/rfc822",
        as_attachment=True,
        download_name=f"mail-{row.id}.eml",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _act(inbound_id: int, fallback: str, verb):
    """Run one review verb from a POSTed form; flash what happened and go back."""
    form = ActionForm()
    back = local_target(form.back.data, url_for(fallback))
    if not form.validate_on_submit():
        form_errors(form)
        return redirect(back)
    try:
        message = verb(current_actor(), inbound_id)
    except DomainError as exc:
        refuse(exc)
        return redirect(back)
    db.session.commit()
    flash(message, "info")
    return redirect(back)


def _ingested(result) -> str:
    what = _label(result.outcome)
    if result.ticket_number is not None:
        what = _("%(outcome)s #%(number)s", outcome=what, number=result.ticket_number)
    return what


def _retry(actor, inbound_id: int) -> str:
    result = review.retry_mail(actor, inbound_id)
    if result.outcome in QUARANTINE_OUTCOMES:
        return _(
            "Mail %(id)s failed again and stays in quarantine: %(detail)s",
            id=inbound_id,
            detail=result.detail,
        )
    return _("Mail %(id)s was processed: %(outcome)s.", id=inbound_id, outcome=_ingested(result))


def _release(actor, inbound_id: int) -> str:
    result = review.release_mail(actor, inbound_id)
    if result.outcome == Outcome.QUARANTINED:
        return _("Mail %(id)s was released but failed; it is in quarantine now.", id=inbound_id)
    return _("Mail %(id)s was released: %(outcome)s.", id=inbound_id, outcome=_ingested(result))


def _discard(actor, inbound_id: int) -> str:
    review.discard_mail(actor, inbound_id)
    return _("Mail %(id)s was discarded (the original is kept).", id=inbound_id)


def _delete(actor, inbound_id: int) -> str:
    review.delete_spam(actor, inbound_id)
    return _("Mail %(id)s was deleted from the spam list.", id=inbound_id)


@bp.post("/mail/<int:inbound_id>/retry")
def mail_retry(inbound_id: int):
    return _act(inbound_id, "agent.mail_quarantine", _retry)


@bp.post("/mail/<int:inbound_id>/discard")
def mail_discard(inbound_id: int):
    return _act(inbound_id, "agent.mail_quarantine", _discard)


@bp.post("/mail/<int:inbound_id>/release")
def mail_release(inbound_id: int):
    return _act(inbound_id, "agent.mail_spam", _release)


@bp.post("/mail/<int:inbound_id>/delete")
def mail_delete(inbound_id: int):
    return _act(inbound_id, "agent.mail_spam", _delete)


@bp.post("/tickets/<int:number>/messages/<int:message_id>/move")
def move(number: int, message_id: int):
    actor = current_actor()
    ticket = services.get_ticket(actor, number)
    message = db.session.get(Message, message_id)
    form = MoveForm()
    if not form.validate_on_submit():
        form_errors(form)
        return redirect(url_for("agent.ticket", number=number))
    target_number = (form.target.data or "").strip().lstrip("#")
    try:
        if message is None or message.ticket_id != ticket.id:
            raise NotFound("That message is not on this ticket.")
        if not target_number.isdigit():
            raise ValidationError("Give the number of the ticket to move the message to.")
        target = services.get_ticket(actor, int(target_number))
        joined = move_message(actor, message, target)
    except DomainError as exc:
        refuse(exc)
        return redirect(url_for("agent.ticket", number=number))
    db.session.commit()
    if joined:
        moved = _(
            "The message was moved to #%(number)s; its sender now follows that ticket.",
            number=target.number,
        )
    else:
        moved = _("The message was moved to #%(number)s.", number=target.number)
    flash(moved, "info")
    return redirect(url_for("agent.ticket", number=number))


# The count is on the pages: the navigation shows plain labels.
add_nav_item(_l("Incoming mail"), "agent.mail_quarantine", order=40)
