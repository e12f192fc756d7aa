"""Small helpers the console views share: choices, uploads, safe redirects, error answers."""

from urllib.parse import urlsplit

from flask import current_app, flash, request
from flask_babel import gettext as _
from sqlalchemy import select

from helpdesk.accounts.models import Role, Team, User
from helpdesk.errors import Conflict, DomainError, NotFound, PermissionDenied
from helpdesk.extensions import db
from helpdesk.sanitize import markdown_to_html
from helpdesk.validation import ATTACHMENTS_PER_MESSAGE_MAX, BODY_MAX, Upload

_STATUS = {NotFound: 404, PermissionDenied: 403, Conflict: 409}


def agents() -> list[User]:
    return list(
        db.session.execute(
            select(User)
            .where(User.active.is_(True), User.role.in_([Role.AGENT, Role.ADMIN]))
            .order_by(User.name)
        ).scalars()
    )


def teams() -> list[Team]:
    return list(db.session.execute(select(Team).order_by(Team.name)).scalars())


def assignee_choices(with_me: bool = False) -> list[tuple[str, str]]:
    choices = [("me", _("Me"))] if with_me else []
    return choices + [("none", _("Nobody"))] + [(str(u.id), u.name) for u in agents()]


def team_choices() -> list[tuple[str, str]]:
    return [("none", _("No team"))] + [(str(t.id), t.name) for t in teams()]


def uploads_from_request(field: str = "attachments") -> list[Upload]:
    """The files chosen in the form; an empty file field sends one nameless part: skip it."""
    return [
        Upload(
            filename=part.filename,
            content_type=part.mimetype or "application/octet-stream",
            data=part.read(),
        )
        for part in request.files.getlist(field)
        if part and part.filename
    ]


def upload_limits() -> dict:
    return {
        "files": ATTACHMENTS_PER_MESSAGE_MAX,
        "megabytes": current_app.config["HELPDESK_MAX_ATTACHMENT_MB"],
    }


def body_html(text: str | None) -> str | None:
    """Sanitized HTML of the agent's Markdown (none for a body the services will refuse)."""
    if not text or len(text) > BODY_MAX:
        return None
    return markdown_to_html(text)


def local_target(target: str | None, fallback: str) -> str:
    """`target` if it is a path on this site (a form's "come back here"), else `fallback`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 for c in target):
        return fallback
    return target


def refuse(exc: DomainError) -> int:
    """Flash why the domain refused and return the HTTP status to answer with."""
    db.session.rollback()
    flash(exc.translated(), "error")
    return _STATUS.get(type(exc), 400)


def form_errors(form) -> None:
    """Flash a form's field errors (required fields left empty, too long, …)."""
    for name, errors in form.errors.items():
        label = getattr(getattr(form, name, None), "label", None)
        for error in errors:
            field = label.text if label else name
            flash(_("%(field)s: %(error)s", field=field, error=error), "error")
