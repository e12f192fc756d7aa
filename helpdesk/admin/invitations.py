"""Administration: customer invitations (how accounts come about under the "invite" policy)."""

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from helpdesk.accounts import admin as people
from helpdesk.accounts.auth import current_actor
from helpdesk.accounts.signup import INVITE_MAX_AGE, pending_invitations
from helpdesk.admin import add_section, bp
from helpdesk.admin.people_forms import ActionForm, InvitationForm
from helpdesk.agent.common import form_errors, refuse
from helpdesk.contacts.models import Organization
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.settings import get_setting


def _form() -> InvitationForm:
    form = InvitationForm()
    orgs = db.session.execute(select(Organization).order_by(Organization.name)).scalars()
    form.organization.choices = [("", _("No organization"))] + [(str(o.id), o.name) for o in orgs]
    return form


def _page(form: InvitationForm, status: int = 200):
    page = render_template(
        "admin/invitations.html",
        rows=pending_invitations(),
        form=form,
        action=ActionForm(),
        policy=get_setting("signup_policy"),
        days=INVITE_MAX_AGE.days,
    )
    return page, status


@bp.get("/invitations")
def invitations():
    return _page(_form())


@bp.post("/invitations")
def invite():
    form = _form()
    if not form.validate_on_submit():
        form_errors(form)
        return _page(form, 400)
    chosen = form.organization.data or ""
    organization = db.session.get(Organization, int(chosen)) if chosen.isdigit() else None
    try:
        invitation = people.invite_customer(
            current_actor(), form.email.data, form.name.data, organization
        )
    except DomainError as exc:
        return _page(form, refuse(exc))
    db.session.commit()
    flash(_("An invitation is on its way to %(email)s.", email=invitation.email), "info")
    return redirect(url_for("admin.invitations"), 303)


@bp.post("/invitations/<int:invitation_id>/revoke")
def revoke_invitation(invitation_id: int):
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        invitation = people.revoke_invitation(current_actor(), invitation_id)
    except DomainError as exc:
        refuse(exc)
        return redirect(url_for("admin.invitations"), 303)
    db.session.commit()
    flash(
        _(
            "The invitation to %(email)s is revoked; its link no longer works.",
            email=invitation.email,
        ),
        "info",
    )
    return redirect(url_for("admin.invitations"), 303)


add_section(
    _l("Customer invitations"),
    "admin.invitations",
    _l("Invite customers to make an account; see and revoke pending invitations."),
    order=13,
)
