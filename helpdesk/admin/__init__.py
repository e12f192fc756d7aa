"""The console's administration pages under /agent/admin/: administrators only.

Each page module registers its routes on `bp` and lists itself on the index with
`add_section(label, endpoint, summary)`.
"""

from dataclasses import dataclass

from flask import Blueprint, Flask, abort, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from helpdesk.agent.nav import add_nav_item

bp = Blueprint("admin", __name__)


@dataclass(frozen=True)
class Section:
    label: str
    endpoint: str
    summary: str
    order: int = 100


_SECTIONS: list[Section] = []


def add_section(label: str, endpoint: str, summary: str, *, order: int = 100) -> None:
    """List a page on the administration index (idempotent)."""
    if all(s.endpoint != endpoint for s in _SECTIONS):
        _SECTIONS.append(Section(label, endpoint, summary, order))


@bp.before_request
@login_required
def require_admin():
    # Customers must not learn the console exists; agents are told they lack the right.
    if not current_user.is_staff:
        abort(404)
    if not current_user.is_admin:
        abort(403)


@bp.context_processor
def console_helpers():
    from helpdesk.accounts.auth import current_actor
    from helpdesk.agent.display import ago, short_time
    from helpdesk.agent.nav import nav_for

    return {"console_nav": nav_for(current_actor()), "ago": ago, "short_time": short_time}


@bp.get("/")
def index():
    sections = sorted(_SECTIONS, key=lambda s: (s.order, s.label))
    return render_template("admin/index.html", sections=sections)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp, url_prefix="/agent/admin")


add_nav_item(_l("Admin"), "admin.index", admin_only=True, order=95)

# The page modules, each owning its routes and templates.
from helpdesk.admin import (  # noqa: E402,F401
    blocked,
    business,
    canned,
    changes,
    customers,
    invitations,
    mail_templates,
    mailboxes,
    people,
    teams,
)
