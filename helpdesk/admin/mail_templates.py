"""Administration: the wording of every mail, per kind and language, with a preview."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import TextAreaField
from wtforms.validators import Length

from helpdesk.accounts.auth import current_actor
from helpdesk.admin import add_section, bp
from helpdesk.agent.common import form_errors, refuse
from helpdesk.errors import DomainError
from helpdesk.extensions import db
from helpdesk.i18n import LOCALES
from helpdesk.mail import templates_store
from helpdesk.mail.templates_store import (
    AGENT_KINDS,
    CUSTOMER_KINDS,
    MAX_SOURCE,
    SENDER_KINDS,
    default_source,
    override,
    preview_mail,
    reset_template,
    sample_context,
    save_template,
)
from helpdesk.sanitize import sanitize_html

SUBJECT_SOURCE_MAX = 2000
GROUPS = (
    (_l("To customers"), CUSTOMER_KINDS),
    (_l("To agents"), AGENT_KINDS),
    (_l("To senders whose mail made no ticket"), SENDER_KINDS),
)
DESCRIPTIONS = {
    "acknowledge": _l("A new ticket was received"),
    "reply": _l("An agent's public reply"),
    "assigned": _l("Someone is handling the ticket"),
    "pending": _l("The ticket waits on the customer"),
    "resolved": _l("The ticket is resolved (with a “not solved” link)"),
    "closed": _l("The ticket is closed"),
    "agent_new_ticket": _l("A new ticket in the agent's team"),
    "agent_assigned": _l("A ticket was assigned to the agent"),
    "agent_customer_reply": _l("The customer replied on the agent's ticket"),
    "agent_mention": _l("The agent was @mentioned in a note"),
    "too_large": _l("A mail was too large to take in"),
}
# Which of sample_context's values a kind's mail has (the others are empty there).
_TICKETLESS = ("helpdesk_name", "recipient", "mail")


class TemplateForm(FlaskForm):
    subject = TextAreaField(_l("Subject"), validators=[Length(max=SUBJECT_SOURCE_MAX)])
    body_text = TextAreaField(_l("Text"), validators=[Length(max=MAX_SOURCE)])
    body_html = TextAreaField(_l("HTML"), validators=[Length(max=MAX_SOURCE)])


def _placeholders(kind: str) -> list[tuple[str, str]]:
    """Every `{{ name }}` a template of `kind` can use, with the preview's example value."""
    context = sample_context()
    if kind in SENDER_KINDS:
        context = {k: v for k, v in context.items() if k in _TICKETLESS}
    else:
        context.pop("mail", None)
    found: list[tuple[str, str]] = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            example = str(value) if not isinstance(value, Markup) else value.unescape()
            found.append((prefix, "—" if value is None else example[:80]))

    walk("", context)
    return found


def _checked_key(kind: str, locale: str) -> None:
    if kind not in templates_store.KINDS or locale not in LOCALES:
        abort(404)


@bp.get("/mail-templates")
def mail_templates():
    customized = {
        (row.kind, row.locale)
        for row in db.session.execute(db.select(templates_store.MailTemplate)).scalars()
    }
    return render_template(
        "admin/mail_templates.html",
        groups=GROUPS,
        descriptions=DESCRIPTIONS,
        locales=LOCALES,
        customized=customized,
    )


@bp.route("/mail-templates/<kind>/<locale>", methods=["GET", "POST"])
def edit_mail_template(kind: str, locale: str):
    """Edit one kind's wording in one language; "Preview" renders it, "Save" stores it."""
    _checked_key(kind, locale)
    actor = current_actor()
    form = TemplateForm()
    preview, status, field_errors = None, 200, {}
    if request.method == "POST":
        if not form.validate_on_submit():
            form_errors(form)
            return _render_editor(kind, locale, form, None), 400
        sources = {
            "subject": form.subject.data or "",
            "body_text": form.body_text.data or "",
            "body_html": form.body_html.data or "",
        }
        try:
            if request.form.get("action") == "save":
                save_template(actor, kind, locale, **sources)
                db.session.commit()
                flash(_("The %(kind)s mail in %(language)s is saved.", kind=kind,
                        language=LOCALES[locale]), "success")  # fmt: skip
                return redirect(url_for("admin.edit_mail_template", kind=kind, locale=locale))
            preview = preview_mail(kind, locale, **sources)
        except DomainError as exc:
            status, field_errors = refuse(exc), exc.fields
    else:
        row = override(kind, locale)
        form.subject.data = row.subject if row else default_source(kind, "subject")
        form.body_text.data = row.body_text if row else default_source(kind, "text")
        form.body_html.data = row.body_html if row else default_source(kind, "html")
    return _render_editor(kind, locale, form, preview, field_errors), status


def _render_editor(kind: str, locale: str, form: TemplateForm, preview, field_errors=None) -> str:
    return render_template(
        "admin/mail_template_edit.html",
        kind=kind,
        locale=locale,
        language=LOCALES[locale],
        description=DESCRIPTIONS.get(kind, ""),
        form=form,
        customized=override(kind, locale) is not None,
        placeholders=_placeholders(kind),
        preview=preview,
        # The preview's HTML goes into a sandboxed frame (no scripts), sanitized first too.
        preview_html=sanitize_html(preview.html) if preview else None,
        field_errors=field_errors or {},
    )


@bp.post("/mail-templates/<kind>/<locale>/reset")
def reset_mail_template(kind: str, locale: str):
    _checked_key(kind, locale)
    try:
        reset_template(current_actor(), kind, locale)
    except DomainError as exc:
        refuse(exc)
        return redirect(url_for("admin.edit_mail_template", kind=kind, locale=locale))
    db.session.commit()
    flash(_("The %(kind)s mail in %(language)s is back to the built-in wording.", kind=kind,
            language=LOCALES[locale]), "success")  # fmt: skip
    return redirect(url_for("admin.edit_mail_template", kind=kind, locale=locale))


add_section(
    _l("Mail templates"),
    "admin.mail_templates",
    _l("The wording of every mail the helpdesk sends, per language, with a preview."),
)
