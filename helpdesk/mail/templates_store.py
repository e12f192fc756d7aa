"""Mail templates: the files under templates/mail/, which the business may override per kind
and language (a `MailTemplate` row with its own subject, text and HTML).

Businesses edit these, so every template, file or row, renders in Jinja's sandbox with plain
values only (dicts and strings, never database objects): a template cannot reach the app,
the database or anyone's password hash. Texts are translated with the app's catalogs in the
language forced by the caller (`flask_babel.force_locale`).
"""

import os
from dataclasses import dataclass
from datetime import datetime

from flask_babel import force_locale, get_translations
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup
from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from helpdesk import audit
from helpdesk.accounts.actor import Actor
from helpdesk.errors import PermissionDenied, ValidationError
from helpdesk.extensions import db
from helpdesk.i18n import LOCALES, N_, supported_locale
from helpdesk.timeutil import utcnow

FOLDER = os.path.join(os.path.dirname(os.path.dirname(__file__)), "templates", "mail")
CUSTOMER_KINDS = ("acknowledge", "reply", "assigned", "pending", "resolved", "closed")
SENDER_KINDS = ("too_large",)  # to someone whose mail made no ticket
AGENT_KINDS = ("agent_new_ticket", "agent_assigned", "agent_customer_reply", "agent_mention")
KINDS = CUSTOMER_KINDS + AGENT_KINDS + SENDER_KINDS
MAX_SOURCE = 100_000


class MailTemplate(db.Model):
    """The business's own wording of one kind of mail in one language."""

    __tablename__ = "mail_templates"
    __table_args__ = (UniqueConstraint("kind", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def _gettext(message: str) -> str:
    return get_translations().ugettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return get_translations().ungettext(singular, plural, n)


class _MailSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, without `**`: `{{ 9 ** 9 ** 9 }}` would keep a worker busy for hours."""

    intercepted_binops = frozenset(["**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("The ** operator is not available in mail templates.")
        return super().call_binop(context, operator, left, right)


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = _MailSandbox(
        loader=FileSystemLoader(FOLDER),
        autoescape=autoescape,
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)
# For checking a business's template: a name that does not exist is an error, not "".
_TEXT_STRICT = _TEXT.overlay(undefined=StrictUndefined)
_HTML_STRICT = _HTML.overlay(undefined=StrictUndefined)


def override(kind: str, locale: str) -> MailTemplate | None:
    return db.session.execute(
        select(MailTemplate).where(MailTemplate.kind == kind, MailTemplate.locale == locale)
    ).scalar_one_or_none()


def default_source(kind: str, part: str) -> str:
    """The file a kind's part ("subject", "text", "html") starts from, for an editor."""
    name = {"subject": f"{kind}.subject.txt", "text": f"{kind}.txt", "html": f"{kind}.html"}[part]
    with open(os.path.join(FOLDER, name), encoding="utf-8") as handle:
        return handle.read()


def _render(env, source: str | None, name: str, context: dict) -> str:
    template = env.from_string(source) if source is not None else env.get_template(name)
    return template.render(context)


def render_mail(kind: str, locale: str, context: dict) -> RenderedMail:
    """Subject, text and HTML of one mail in `locale`, from the business's override if it
    has one for that language, else from the files."""
    row = override(kind, locale)
    with force_locale(locale):
        subject = _render(_TEXT, row and row.subject, f"{kind}.subject.txt", context)
        text = _render(_TEXT, row and row.body_text, f"{kind}.txt", context)
        html = _render(_HTML, row and row.body_html, f"{kind}.html", context)
    return RenderedMail(" ".join(subject.split()), text.strip() + "\n", html)


def sample_context() -> dict:
    """Every value a mail template can use, filled with examples (the editor's preview and
    the check that a saved template only uses what exists)."""
    return {
        "helpdesk_name": "Helpdesk",
        "recipient": {"name": "Ada Lovelace", "email": "ada@example.com"},
        "ticket": {
            "number": 1042,
            "reference": "#1042",
            "subject": "The printer jams",
            "status": "open",
            "link": "https://help.example.com/t/example",
            "requester": {"name": "Ada Lovelace", "email": "ada@example.com"},
            "team": "Support",
            "follow_up_of": None,
        },
        "agent": {"name": "Grace Hopper"},
        "actor": {"name": "Grace Hopper"},
        "message": {
            "author": "Grace Hopper",
            "text": "Please try the other tray.",
            "html": Markup("<p>Please try the other tray.</p>"),
            "attachments": ["tray.jpg"],
        },
        "not_solved_link": "https://help.example.com/not-solved/example",
        "reopen_days": 7,
        "mail": {"subject": "Scans of the contract", "size_mb": 31.5, "limit_mb": 25},
    }


def _problem(exc: TemplateError) -> str:
    """What is wrong with a template, with the line for a syntax error."""
    reason = exc.message or exc.__class__.__name__
    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return f"line {exc.lineno}: {reason}"
    return reason


# What is said of each part of a template: too long, or failing (with the problem).
_TOO_LONG = {
    "subject": N_("The subject is too long."),
    "body_text": N_("The text is too long."),
    "body_html": N_("The HTML is too long."),
}
_BROKEN = {
    "subject": N_("The subject does not work: %(problem)s"),
    "body_text": N_("The text does not work: %(problem)s"),
    "body_html": N_("The HTML does not work: %(problem)s"),
}


def _check(env, source: str, field: str) -> None:
    """`field` is subject, body_text or body_html; the message names that part."""
    if len(source) > MAX_SOURCE:
        raise ValidationError(_TOO_LONG[field], {field: "Too long."})
    try:
        env.from_string(source).render(sample_context())
    except TemplateError as exc:
        problem = _problem(exc)
        raise ValidationError(_BROKEN[field], {field: problem}, problem=problem) from None
    except Exception as exc:  # noqa: BLE001  (a business's template may fail in any way: 1/0)
        problem = f"{exc.__class__.__name__}: {exc}"[:300]
        raise ValidationError(_BROKEN[field], {field: problem}, problem=problem) from None


def preview_mail(kind: str, locale: str, *, subject: str, body_text: str, body_html: str):
    """The mail these sources make with the sample values, as `render_mail` would send it;
    ValidationError says which part fails and where."""
    kind, locale = _key(kind, locale)
    with force_locale(locale):
        _check(_TEXT_STRICT, subject, "subject")
        _check(_TEXT_STRICT, body_text, "body_text")
        _check(_HTML_STRICT, body_html, "body_html")
        context = sample_context()
        subject = _TEXT.from_string(subject).render(context)
        text = _TEXT.from_string(body_text).render(context)
        html = _HTML.from_string(body_html).render(context)
    return RenderedMail(" ".join(subject.split()), text.strip() + "\n", html)


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only administrators change the mail templates.")


def _key(kind: str, locale: str) -> tuple[str, str]:
    if kind not in KINDS:
        raise ValidationError("There is no mail “%(kind)s”.", {"kind": "Unknown."}, kind=kind)
    code = supported_locale(locale)
    if code is None:
        raise ValidationError(
            "The language is one of %(locales)s.",
            {"locale": "Unknown."},
            locales=", ".join(LOCALES),
        )
    return kind, code


def save_template(
    actor: Actor, kind: str, locale: str, *, subject: str, body_text: str, body_html: str
) -> MailTemplate:
    """Store the business's wording of `kind` in `locale`; each part must render (with the
    values of `sample_context`) or ValidationError says where it fails."""
    _require_admin(actor)
    kind, locale = _key(kind, locale)
    if not subject.strip() or not body_text.strip():
        raise ValidationError("A mail needs a subject and a text.", {"subject": "Required."})
    preview_mail(kind, locale, subject=subject, body_text=body_text, body_html=body_html)
    row = override(kind, locale)
    old = "custom" if row is not None else "default"
    if row is None:
        row = MailTemplate(kind=kind, locale=locale)
        db.session.add(row)
    row.subject, row.body_text, row.body_html = subject, body_text, body_html
    row.updated_at = utcnow()
    row.updated_by_id = actor.user.id if actor.user else None
    audit.record(
        actor, "mail_template.changed", f"{kind} {locale}: {old}", f"{kind} {locale}: custom"
    )
    db.session.flush()
    return row


def reset_template(actor: Actor, kind: str, locale: str) -> None:
    """Drop the business's wording: the built-in one applies again."""
    _require_admin(actor)
    kind, locale = _key(kind, locale)
    row = override(kind, locale)
    if row is not None:
        db.session.delete(row)
        where = f"{kind} {locale}"
        audit.record(actor, "mail_template.reset", f"{where}: custom", f"{where}: default")
        db.session.flush()
