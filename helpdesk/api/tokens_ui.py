"""Account pages: a user's API tokens; an admin's webhook endpoints and their deliveries."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from helpdesk.accounts.auth import current_actor
from helpdesk.accounts.models import ApiToken
from helpdesk.accounts.services import create_token, revoke_token
from helpdesk.api.forms import ActionForm, TokenForm
from helpdesk.extensions import db
from helpdesk.webhooks import services as webhooks
from helpdesk.webhooks.models import WebhookDelivery

bp = Blueprint("account", __name__, url_prefix="/account")
RECENT_DELIVERIES = 50


def _tokens() -> list[ApiToken]:
    return list(
        db.session.execute(
            select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id.desc())
        ).scalars()
    )


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens():
    form = TokenForm()
    new_token = None
    status = 200
    if form.validate_on_submit():
        new_token = create_token(current_user._get_current_object(), form.name.data)
        db.session.commit()
        form = TokenForm(formdata=None)
        status = 201
    elif form.is_submitted():
        status = 400
    page = render_template(
        "api/tokens.html", form=form, tokens=_tokens(), new_token=new_token, action=ActionForm()
    )
    # The new token appears once: this page must not be cached anywhere.
    return page, status, {"Cache-Control": "no-store"}


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke(token_id: int):
    if ActionForm().validate_on_submit():
        revoke_token(current_user._get_current_object(), token_id)
        db.session.commit()
        flash(_("The token is revoked; requests with it are refused from now on."), "info")
    return redirect(url_for("account.tokens"))


def _require_admin():
    actor = current_actor()
    if actor is None or not actor.is_admin:
        abort(404)
    return actor


@bp.route("/webhooks")
@login_required
def webhook_list():
    actor = _require_admin()
    deliveries = db.session.execute(
        select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(RECENT_DELIVERIES)
    ).scalars()
    return render_template(
        "api/webhooks.html",
        endpoints=webhooks.list_endpoints(actor),
        deliveries=list(deliveries),
        action=ActionForm(),
    )


@bp.route("/webhooks/<int:endpoint_id>/toggle", methods=["POST"])
@login_required
def webhook_toggle(endpoint_id: int):
    actor = _require_admin()
    if ActionForm().validate_on_submit():
        endpoint = webhooks.get_endpoint(actor, endpoint_id)
        webhooks.update_endpoint(actor, endpoint, {"active": not endpoint.active})
        db.session.commit()
        flash(_("Resumed.") if endpoint.active else _("Paused."), "info")
    return redirect(url_for("account.webhook_list"))


@bp.route("/webhooks/deliveries/<int:delivery_id>/resend", methods=["POST"])
@login_required
def webhook_resend(delivery_id: int):
    actor = _require_admin()
    if ActionForm().validate_on_submit():
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            abort(404)
        webhooks.resend_delivery(actor, delivery)
        db.session.commit()
        flash(_("Delivery %(id)s will be sent again.", id=delivery.id), "info")
    return redirect(url_for("account.webhook_list"))
