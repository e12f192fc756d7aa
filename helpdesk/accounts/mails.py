"""Account mails (outbox handlers): sign-up confirmation, invitation, password reset, the
notice of a changed password, and a fresh link to a ticket.

Each builds its link when it is sent, in the language the customer used, with a text and an
HTML part (templates under templates/portal/mail/).
"""

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from helpdesk.accounts import signup
from helpdesk.accounts.models import User
from helpdesk.extensions import db
from helpdesk.i18n import DEFAULT_LOCALE, supported_locale
from helpdesk.mail.sending import send_mail
from helpdesk.outbox.runner import handler
from helpdesk.settings import business_name, get_setting
from helpdesk.tickets.links import MAIL_FRESH_LINK, make_link_token
from helpdesk.tickets.models import Ticket

SUBJECTS = {
    "signup_confirm": _l("Confirm your e-mail address"),
    "account_exists": _l("You already have an account"),
    "invitation": _l("You are invited to our helpdesk"),
    "password_reset": _l("Reset your password"),
    "password_changed": _l("Your password was changed"),
    "ticket_link": _l("A fresh link to your request"),
}


def render_mail(kind: str, locale: str | None, link_endpoint: str, **context) -> dict:
    """Subject, text and HTML of one account mail, with an absolute link to `link_endpoint`
    (its `token` in `context`)."""
    base = current_app.config["HELPDESK_BASE_URL"]
    with (
        current_app.test_request_context(base_url=base),
        force_locale(supported_locale(locale) or DEFAULT_LOCALE),
    ):
        token = context.pop("token", None)
        values = {"token": token} if token else {}
        context["link"] = url_for(link_endpoint, _external=True, **values)
        context.update(helpdesk_name=business_name(), **signup.lifetimes())
        return {
            "subject": str(SUBJECTS[kind]),
            "text": render_template(f"portal/mail/{kind}.txt", **context),
            "html": render_template(f"portal/mail/{kind}.html", **context),
        }


def _send(to: str, mail: dict) -> str:
    headers = {"Auto-Submitted": "auto-generated"}
    return send_mail([to], mail["subject"], mail["text"], html=mail["html"], headers=headers)


@handler(signup.MAIL_SIGNUP)
def send_signup_confirmation(payload: dict) -> str:
    token = signup.make_signup_token(payload["email"], payload["name"])
    mail = render_mail(
        "signup_confirm",
        payload.get("locale"),
        "portal.signup_confirm",
        token=token,
        name=payload["name"],
    )
    return _send(payload["email"], mail)


@handler(signup.MAIL_ACCOUNT_EXISTS)
def send_account_exists(payload: dict) -> str:
    mail = render_mail("account_exists", payload.get("locale"), "portal.reset_request")
    return _send(payload["email"], mail)


@handler(signup.MAIL_INVITATION)
def send_invitation(payload: dict) -> str:
    if not signup.pending_invitations(payload["email"]):
        return "invitation revoked or accepted before it was mailed; nothing sent"
    token = signup.make_invite_token(payload["email"], payload["name"], payload["organization_id"])
    mail = render_mail(
        "invitation",
        payload.get("locale"),
        "portal.invitation",
        token=token,
        name=payload["name"],
        inviter=payload["inviter"],
    )
    return _send(payload["email"], mail)


@handler(signup.MAIL_RESET)
def send_password_reset(payload: dict) -> str:
    user = db.session.get(User, payload["user_id"])
    if user is None or not user.active:
        return "user gone or disabled"
    mail = render_mail(
        "password_reset",
        payload.get("locale"),
        "portal.reset_password",
        token=signup.make_reset_token(user),
        name=user.name,
    )
    return _send(user.email, mail)


@handler(signup.MAIL_CHANGE_NOTICE)
def send_password_changed(payload: dict) -> str:
    user = db.session.get(User, payload["user_id"])
    if user is None or not user.active:
        return "user gone or disabled"
    mail = render_mail(
        "password_changed", payload.get("locale"), "portal.reset_request", name=user.name
    )
    return _send(user.email, mail)


@handler(MAIL_FRESH_LINK)
def send_fresh_link(payload: dict) -> str:
    ticket = db.session.get(Ticket, payload["ticket_id"])
    if ticket is None:
        return "ticket gone"
    mail = render_mail(
        "ticket_link",
        payload.get("locale"),
        "portal.link",
        token=make_link_token(ticket),  # made now: a revocation before sending still applies
        reference=ticket.reference,
        subject=ticket.subject,
        link_days=get_setting("link_days"),
    )
    return _send(payload["email"], mail)
