"""Portal account pages: sign up, confirm, accept an invitation, reset or change a password,
profile."""

import pytz
from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from helpdesk.accounts import signup
from helpdesk.accounts.auth import current_actor, home_for, keep_signed_in, sign_in
from helpdesk.accounts.signup import lifetimes
from helpdesk.errors import DomainError, NotFound
from helpdesk.extensions import db
from helpdesk.i18n import COOKIE, LOCALES, chosen_locale, remember_locale
from helpdesk.portal import bp, messages
from helpdesk.portal.forms import (
    ChangePasswordForm,
    PasswordForm,
    ProfileForm,
    ResetRequestForm,
    SignupForm,
)
from helpdesk.portal.limits import per_account, per_address, per_ip
from helpdesk.settings import get_setting
from helpdesk.validation import PASSWORD_MAX, PASSWORD_MIN

SENT_TO = "portal_mail_sent_to"


def _failed(exc: DomainError) -> dict:
    db.session.rollback()
    flash(messages.for_customer(exc), "error")
    return messages.field_errors(exc)


def _invalid_link(kind: str):
    page = render_template("portal/link_invalid.html", kind=kind)
    return page, 404


@bp.route("/signup", methods=["GET", "POST"])
@per_ip("HELPDESK_SIGNUP_RATE_LIMIT")
@per_address("HELPDESK_SIGNUP_RATE_LIMIT")
def signup_start():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = SignupForm()
    policy = get_setting("signup_policy")
    errors, status = {}, 200
    if policy != "invite" and form.validate_on_submit():
        try:
            address = signup.request_signup(form.email.data, form.name.data, str(get_locale()))
        except DomainError as exc:
            errors, status = _failed(exc), 400
        else:
            db.session.commit()
            session[SENT_TO] = address
            return redirect(url_for("portal.signup_sent"))
    page = render_template("portal/signup.html", form=form, errors=errors, policy=policy)
    return page, status


@bp.route("/signup/sent")
def signup_sent():
    address = session.get(SENT_TO)
    return render_template("portal/mail_sent.html", kind="signup", address=address, **lifetimes())


def _finish_page(grant: signup.Grant, form: PasswordForm, errors: dict, status: int, kind: str):
    if not form.name.data:
        form.name.data = grant.name
    page = render_template(
        "portal/set_password.html",
        form=form,
        errors=errors,
        email=grant.email,
        kind=kind,
        password_min=PASSWORD_MIN,
    )
    return page, status


def _complete(grant: signup.Grant, kind: str):
    """The confirmation and invitation pages: choose a password, and the account exists."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return _finish_page(grant, form, {}, 400 if request.method == "POST" else 200, kind)
    try:
        user = signup.complete_signup(
            grant, form.password.data, form.name.data, locale=chosen_locale()
        )
    except DomainError as exc:
        return _finish_page(grant, form, _failed(exc), 400, kind)
    db.session.commit()
    sign_in(user)
    flash(_("Welcome! Your account is ready."), "info")
    return redirect(url_for("portal.my_tickets"))


@bp.route("/signup/confirm/<token>", methods=["GET", "POST"])
def signup_confirm(token: str):
    try:
        grant = signup.read_signup_token(token)
    except NotFound:
        return _invalid_link("signup")
    return _complete(grant, "signup")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def invitation(token: str):
    try:
        grant = signup.read_invite_token(token)
    except NotFound:
        return _invalid_link("invitation")
    return _complete(grant, "invitation")


@bp.route("/reset", methods=["GET", "POST"])
@per_ip("HELPDESK_RESET_RATE_LIMIT")
@per_address("HELPDESK_RESET_RATE_LIMIT")
def reset_request():
    form = ResetRequestForm()
    errors, status = {}, 200
    if form.validate_on_submit():
        try:
            address = signup.request_password_reset(form.email.data, str(get_locale()))
        except DomainError as exc:
            errors, status = _failed(exc), 400
        else:
            db.session.commit()
            session[SENT_TO] = address
            return redirect(url_for("portal.reset_sent"))
    return render_template("portal/reset_request.html", form=form, errors=errors), status


@bp.route("/reset/sent")
def reset_sent():
    address = session.get(SENT_TO)
    return render_template("portal/mail_sent.html", kind="reset", address=address, **lifetimes())


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = signup.read_reset_token(token)
    except NotFound:
        return _invalid_link("reset")
    form = PasswordForm()
    errors, status = {}, 200
    if form.validate_on_submit():
        try:
            signup.reset_password(token, form.password.data)
        except DomainError as exc:
            errors, status = _failed(exc), 400
        else:
            db.session.commit()
            sign_in(user)
            flash(_("Your password is changed."), "info")
            return redirect(home_for(user))
    page = render_template(
        "portal/set_password.html",
        form=form,
        errors=errors,
        email=user.email,
        kind="reset",
        password_min=PASSWORD_MIN,
    )
    return page, status


def _timezone_choices() -> list[tuple[str, str]]:
    default = get_setting("timezone")
    first = [SelectChoice("", _("Our default (%(zone)s)", zone=default))]
    return first + [SelectChoice(zone, zone.replace("_", " ")) for zone in pytz.common_timezones]


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = current_actor().user
    form = ProfileForm(obj=user)
    form.locale.choices = [SelectChoice("", _("As my browser says"))] + [
        SelectChoice(code, label) for code, label in LOCALES.items()
    ]
    form.timezone.choices = _timezone_choices()
    errors, status = {}, 200
    if form.validate_on_submit():
        try:
            signup.update_profile(
                user, name=form.name.data, locale=form.locale.data, timezone=form.timezone.data
            )
        except DomainError as exc:
            errors, status = _failed(exc), 400
        else:
            db.session.commit()
            response = redirect(url_for("portal.account"))
            if user.locale:  # a language chosen here wins over one picked in the header
                remember_locale(response, user.locale)
            else:
                response.delete_cookie(COOKIE)
            with force_locale(user.locale or str(get_locale())):
                flash(_("Your settings are saved."), "info")
            return response
    g.page_url = url_for("portal.account")
    return render_template("portal/account.html", form=form, errors=errors), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@per_ip("HELPDESK_RESET_RATE_LIMIT")
@per_account("HELPDESK_RESET_RATE_LIMIT")
def change_password():
    """Current password, the new one twice; every other session of the user ends."""
    user = current_actor().user
    form = ChangePasswordForm()
    errors, status = {}, 200
    if form.validate_on_submit():
        try:
            signup.change_password(
                user,
                form.current_password.data,
                form.new_password.data,
                form.confirm_password.data,
            )
        except DomainError as exc:
            errors, status = _failed(exc), 400
        else:
            db.session.commit()
            keep_signed_in(user)
            flash(_("Your password is changed. Other devices are signed out."), "info")
            return redirect(url_for("portal.account"))
    elif request.method == "POST":
        status = 400
    g.page_url = url_for("portal.change_password")
    page = render_template(
        "portal/change_password.html",
        form=form,
        errors=errors,
        password_min=PASSWORD_MIN,
        password_max=PASSWORD_MAX,
    )
    return page, status
