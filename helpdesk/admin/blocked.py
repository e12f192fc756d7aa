"""Administration: blocked senders, the addresses and domains whose mail is held as spam."""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from helpdesk.accounts.auth import current_actor
from helpdesk.admin import add_section, bp
from helpdesk.agent.common import form_errors, refuse
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.tickets import blocklist
from helpdesk.validation import EMAIL_MAX


class BlockForm(FlaskForm):
    pattern = StringField(
        _l("Address or domain"), validators=[DataRequired(), Length(max=EMAIL_MAX)]
    )
    reason = StringField(_l("Reason (optional)"), validators=[Length(max=blocklist.REASON_MAX)])


class UnblockForm(FlaskForm):
    pass


def _page(form: BlockForm, status: int = 200):
    return render_template(
        "admin/blocked.html",
        form=form,
        unblock_form=UnblockForm(formdata=None),
        blocked=blocklist.blocked_senders(),
    ), status


@bp.get("/blocked")
def blocked_senders():
    return _page(BlockForm(formdata=None))


@bp.post("/blocked")
def block_sender():
    form = BlockForm()
    if not form.validate_on_submit():
        form_errors(form)
        return _page(form, 400)
    try:
        row = blocklist.block_sender(current_actor(), form.pattern.data, reason=form.reason.data)
    except DomainError as exc:
        return _page(form, refuse(exc))
    db.session.commit()
    flash(_("Mail from %(pattern)s is held as spam from now on.", pattern=row.pattern), "info")
    return redirect(url_for("admin.blocked_senders"))


@bp.post("/blocked/<int:blocked_id>/remove")
def unblock_sender(blocked_id: int):
    if not UnblockForm().validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("admin.blocked_senders"))
    try:
        pattern = blocklist.unblock_sender(current_actor(), blocked_id)
    except DomainError as exc:
        return _page(BlockForm(formdata=None), refuse(exc))
    db.session.commit()
    flash(_("Mail from %(pattern)s is accepted again.", pattern=pattern), "info")
    return redirect(url_for("admin.blocked_senders"))


add_section(
    _l("Blocked senders"),
    "admin.blocked_senders",
    _l("Addresses and domains whose mail is held as spam."),
    order=40,
)
