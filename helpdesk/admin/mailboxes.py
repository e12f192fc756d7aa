"""Administration: the IMAP mailboxes the poller reads, how their polling goes, and a test.

Secrets are write-only here: the forms never carry a stored password or token back to the
browser; leaving the field empty on edit keeps the stored one.
"""

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from helpdesk.accounts.auth import current_actor
from helpdesk.admin import add_section, bp
from helpdesk.agent.common import form_errors, refuse
from helpdesk.agent.forms import as_choices
from helpdesk.errors import DomainError, NotFound
from helpdesk.extensions import db
from helpdesk.mail import mailboxes as services
from helpdesk.mail.mailboxes import NAME_MAX, ImapUrl, Mailbox, MailboxAuth, is_stalled
from helpdesk.validation import EMAIL_MAX, PASSWORD_MAX, clean_email

HOST_MAX, FOLDER_MAX, URL_MAX, SECRET_MAX = 255, 255, 2000, 4000
AUTH_CHOICES = as_choices(
    [
        (MailboxAuth.PASSWORD.value, _l("Password")),
        (MailboxAuth.XOAUTH2.value, _l("OAuth 2 (XOAUTH2)")),
    ]
)


class MailboxForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)])
    host = StringField(_l("IMAP server"), validators=[DataRequired(), Length(max=HOST_MAX)])
    port = IntegerField(_l("Port"), default=993, validators=[NumberRange(1, 65535)])
    tls = BooleanField(_l("TLS (imaps)"), default=True)
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=320)])
    auth = SelectField(_l("Sign-in"), choices=AUTH_CHOICES, default=MailboxAuth.PASSWORD.value)
    # Password or OAuth refresh token; never filled in from the stored one.
    secret = PasswordField(
        _l("Password or refresh token"), validators=[Optional(), Length(max=SECRET_MAX)]
    )
    folder = StringField(
        _l("Folder"), default="INBOX", validators=[Optional(), Length(max=FOLDER_MAX)]
    )
    processed_folder = StringField(
        _l("Move processed mail to"), validators=[Optional(), Length(max=FOLDER_MAX)]
    )
    address = StringField(_l("Support address"), validators=[Optional(), Length(max=EMAIL_MAX)])
    smtp_url = StringField(_l("SMTP URL"), validators=[Optional(), Length(max=URL_MAX)])
    oauth_token_url = StringField(
        _l("OAuth token URL"), validators=[Optional(), Length(max=URL_MAX)]
    )
    oauth_client_id = StringField(_l("OAuth client id"), validators=[Optional(), Length(max=500)])
    oauth_client_secret = PasswordField(
        _l("OAuth client secret"), validators=[Optional(), Length(max=PASSWORD_MAX)]
    )
    oauth_scope = StringField(_l("OAuth scope"), validators=[Optional(), Length(max=1000)])
    enabled = BooleanField(_l("Poll this mailbox"), default=True)


class ActionForm(FlaskForm):
    """Test, disable, enable: the CSRF token only."""


def _mailbox(mailbox_id: int) -> Mailbox:
    mailbox = db.session.get(Mailbox, mailbox_id)
    if mailbox is None:
        raise NotFound("There is no such mailbox.")
    return mailbox


def _smtp_url(mailbox: Mailbox) -> str:
    if not mailbox.smtp_host:
        return ""
    scheme = "smtps" if mailbox.smtp_security == "ssl" else "smtp"
    user = f"{mailbox.smtp_username}@" if mailbox.smtp_username else ""
    query = "" if mailbox.smtp_security == "ssl" else f"?tls={mailbox.smtp_security}"
    return f"{scheme}://{user}{mailbox.smtp_host}:{mailbox.smtp_port}{query}"


def _filled(mailbox: Mailbox) -> MailboxForm:
    """The edit form with the stored settings, secrets left empty."""
    form = MailboxForm(formdata=None)
    form.name.data, form.host.data = mailbox.name, mailbox.imap_host
    form.port.data, form.tls.data = mailbox.imap_port, mailbox.imap_tls
    form.username.data, form.auth.data = mailbox.username, str(mailbox.auth)
    form.folder.data, form.processed_folder.data = mailbox.folder, mailbox.processed_folder
    form.address.data, form.smtp_url.data = mailbox.address, _smtp_url(mailbox)
    form.oauth_token_url.data = mailbox.oauth_token_url
    form.oauth_client_id.data = mailbox.oauth_client_id
    form.oauth_scope.data = mailbox.oauth_scope
    form.enabled.data = mailbox.enabled
    return form


def _imap(form: MailboxForm) -> ImapUrl:
    return ImapUrl(
        tls=form.tls.data,
        host=form.host.data.strip(),
        port=form.port.data,
        username=form.username.data.strip(),
        password=None,
        folder=(form.folder.data or "").strip() or "INBOX",
    )


def _settings(form: MailboxForm) -> dict:
    return {
        "processed_folder": (form.processed_folder.data or "").strip() or None,
        "address": clean_email(form.address.data, "address") if form.address.data else None,
        "auth": MailboxAuth(form.auth.data),
        "smtp_url": (form.smtp_url.data or "").strip() or None,
        "oauth_token_url": (form.oauth_token_url.data or "").strip() or None,
        "oauth_client_id": (form.oauth_client_id.data or "").strip() or None,
        "oauth_scope": (form.oauth_scope.data or "").strip() or None,
    }


def _form_page(form: MailboxForm, mailbox: Mailbox | None, status: int = 200):
    form.secret.data = form.oauth_client_secret.data = None  # never sent back
    page = render_template("admin/mailbox_form.html", form=form, mailbox=mailbox)
    return page, status


@bp.get("/mailboxes")
def mailboxes():
    found = services.list_mailboxes(current_actor())
    stalled = {m.id for m in found if is_stalled(m)}
    return render_template(
        "admin/mailboxes.html", mailboxes=found, stalled=stalled, action_form=ActionForm()
    )


@bp.route("/mailboxes/new", methods=["GET", "POST"])
def mailbox_new():
    form = MailboxForm()
    if not form.is_submitted():
        return _form_page(form, None)
    if not form.validate():
        form_errors(form)
        return _form_page(form, None, 400)
    try:
        settings = _settings(form)
        mailbox = services.add_mailbox(
            current_actor(),
            name=form.name.data,
            imap=_imap(form),
            secret=form.secret.data or "",
            oauth_client_secret=form.oauth_client_secret.data or None,
            enabled=form.enabled.data,
            **settings,
        )
    except DomainError as exc:
        return _form_page(form, None, refuse(exc))
    db.session.commit()
    flash(_("Mailbox %(name)s was added. Test the connection next.", name=mailbox.name), "info")
    return redirect(url_for("admin.mailboxes"))


@bp.route("/mailboxes/<int:mailbox_id>/edit", methods=["GET", "POST"])
def mailbox_edit(mailbox_id: int):
    mailbox = _mailbox(mailbox_id)
    form = MailboxForm()
    if not form.is_submitted():
        return _form_page(_filled(mailbox), mailbox)
    if not form.validate():
        form_errors(form)
        return _form_page(form, mailbox, 400)
    try:
        changes = _settings(form) | {"name": form.name.data, "imap": _imap(form)}
        changes["enabled"] = form.enabled.data
        if form.secret.data:  # empty: keep the stored secret
            changes["secret"] = form.secret.data
        if form.oauth_client_secret.data:
            changes["oauth_client_secret"] = form.oauth_client_secret.data
        services.edit_mailbox(current_actor(), mailbox, **changes)
    except DomainError as exc:
        return _form_page(form, mailbox, refuse(exc))
    db.session.commit()
    flash(_("Mailbox %(name)s was saved.", name=mailbox.name), "info")
    return redirect(url_for("admin.mailboxes"))


@bp.post("/mailboxes/<int:mailbox_id>/test")
def mailbox_test(mailbox_id: int):
    from helpdesk.mail.poller import PollError

    mailbox = _mailbox(mailbox_id)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("admin.mailboxes"))
    try:
        folders = services.test_mailbox(current_actor(), mailbox)
    except DomainError as exc:
        refuse(exc)
        return redirect(url_for("admin.mailboxes"))
    except PollError as exc:
        db.session.commit()  # a refresh token the provider rotated before the failure
        flash(_("%(name)s: the test failed: %(error)s", name=mailbox.name, error=exc), "error")
        return redirect(url_for("admin.mailboxes"))
    db.session.commit()  # a refresh token the provider rotated during the test
    shown = ", ".join(folders[:20]) + (" …" if len(folders) > 20 else "")
    where = f"{mailbox.imap_host}:{mailbox.imap_port}"
    flash(
        _(
            "%(name)s: signed in to %(where)s. Folders: %(folders)s.",
            name=mailbox.name,
            where=where,
            folders=shown or _("none"),
        ),
        "info",
    )
    if mailbox.folder not in folders:
        flash(
            _(
                "%(name)s: the folder %(folder)s does not exist.",
                name=mailbox.name,
                folder=mailbox.folder,
            ),
            "warning",
        )
    return redirect(url_for("admin.mailboxes"))


def _set_enabled(mailbox_id: int, enabled: bool):
    mailbox = _mailbox(mailbox_id)
    if not ActionForm().validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("admin.mailboxes"))
    try:
        services.edit_mailbox(current_actor(), mailbox, enabled=enabled)
    except DomainError as exc:
        refuse(exc)
        return redirect(url_for("admin.mailboxes"))
    db.session.commit()
    if enabled:
        flash(_("Mailbox %(name)s is polled again.", name=mailbox.name), "info")
    else:
        flash(
            _(
                "Mailbox %(name)s is no longer polled (its mail and tickets stay).",
                name=mailbox.name,
            ),
            "info",
        )
    return redirect(url_for("admin.mailboxes"))


@bp.post("/mailboxes/<int:mailbox_id>/disable")
def mailbox_disable(mailbox_id: int):
    return _set_enabled(mailbox_id, False)


@bp.post("/mailboxes/<int:mailbox_id>/enable")
def mailbox_enable(mailbox_id: int):
    return _set_enabled(mailbox_id, True)


add_section(
    _l("Mailboxes"),
    "admin.mailboxes",
    _l("IMAP accounts the helpdesk reads mail from, and their health"),
)
