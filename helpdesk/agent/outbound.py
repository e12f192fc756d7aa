"""Outbound-mail pages for agents: delivery status, resend, notification preferences."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import BooleanField

from helpdesk.accounts.auth import current_actor
from helpdesk.agent import bp
from helpdesk.agent.common import form_errors, refuse
from helpdesk.agent.nav import add_nav_item
from helpdesk.agent.ticket import render_ticket
from helpdesk.errors import DomainError, NotFound
from helpdesk.extensions import db
from helpdesk.mail import delivery
from helpdesk.mail.delivery import SentMail
from helpdesk.notifications import agent_notifications, set_agent_notification
from helpdesk.tickets.models import Message
from helpdesk.tickets.services import get_ticket, resend_message

# The agent notifications, in the order the preferences page lists them.
NOTIFICATION_LABELS = {
    "new_ticket": _l("A new ticket arrives in one of my teams"),
    "assigned": _l("A ticket is assigned to me"),
    "customer_reply": _l("A customer replies on a ticket assigned to me"),
    "mention": _l("Someone @mentions me in a note"),
}


class PreferencesForm(FlaskForm):
    new_ticket = BooleanField(NOTIFICATION_LABELS["new_ticket"])
    assigned = BooleanField(NOTIFICATION_LABELS["assigned"])
    customer_reply = BooleanField(NOTIFICATION_LABELS["customer_reply"])
    mention = BooleanField(NOTIFICATION_LABELS["mention"])


@bp.context_processor
def delivery_helpers():
    # The ticket page's reply box warns about these (agent/outbound_bouncing.html).
    return {"bouncing_addresses": delivery.bouncing_addresses}


@bp.post("/tickets/<int:number>/messages/<int:message_id>/resend")
def resend_reply(number: int, message_id: int):
    """The "Send again" button beside a reply that was not delivered."""
    actor = current_actor()
    ticket = get_ticket(actor, number)
    message = db.session.get(Message, message_id)
    if message is None or message.ticket_id != ticket.id:
        raise NotFound("There is no such reply on this ticket.")
    try:
        count = resend_message(message, actor)
    except DomainError as exc:
        return render_ticket(ticket, refuse(exc))
    db.session.commit()
    # "mail" in English whatever the count; other languages say it their way.
    again = ngettext(
        "The reply is being sent again (%(num)s mail).",
        "The reply is being sent again (%(num)s mail).",
        count,
    )
    flash(again, "success")
    return redirect(url_for("agent.ticket", number=number, _anchor=f"m{message_id}"))


@bp.get("/mail/outgoing")
def outgoing_mail():
    """Mails that failed, or are still queued after a few minutes, newest first."""
    return _render_outgoing()


def _render_outgoing(status: int = 200):
    mails = delivery.undelivered_mails(current_actor())
    minutes = int(delivery.STUCK_AFTER.total_seconds() // 60)
    return render_template("agent/outbound.html", mails=mails, minutes=minutes), status


@bp.post("/mail/outgoing/<int:mail_id>/resend")
def resend_outgoing(mail_id: int):
    """Send again a mail listed on the outgoing page."""
    actor = current_actor()
    row = db.session.get(SentMail, mail_id)
    if row is None or row.ticket is None:
        raise NotFound("There is no such mail.")
    get_ticket(actor, row.ticket.number)  # NotFound when the agent may not see the ticket
    try:
        delivery.resend_mail(actor, row)
    except DomainError as exc:
        return _render_outgoing(refuse(exc))
    db.session.commit()
    flash(_("The mail to %(address)s is being sent again.", address=row.to_address), "success")
    return redirect(url_for("agent.outgoing_mail"))


@bp.route("/preferences", methods=["GET", "POST"])
def preferences():
    """Which notifications the signed-in agent gets by mail."""
    actor = current_actor()
    form = PreferencesForm()
    if form.validate_on_submit():
        try:
            for event in NOTIFICATION_LABELS:
                set_agent_notification(actor, actor.user, event, bool(form[event].data))
        except DomainError as exc:
            return _render_preferences(form), refuse(exc)
        db.session.commit()
        flash(_("Your notification choices are saved."), "success")
        return redirect(url_for("agent.preferences"))
    if request.method == "POST":
        form_errors(form)
        return _render_preferences(form), 400
    for event, enabled in agent_notifications(actor.user).items():
        form[event].data = enabled
    return _render_preferences(form)


def _render_preferences(form: PreferencesForm) -> str:
    return render_template("agent/preferences.html", form=form, labels=NOTIFICATION_LABELS)


add_nav_item(_l("Outgoing mail"), "agent.outgoing_mail", order=80)
add_nav_item(_l("My notifications"), "agent.preferences", order=90)
