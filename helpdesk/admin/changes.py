"""Administration: the change log, every audited change made outside a ticket."""

from flask import render_template, request
from flask_babel import lazy_gettext as _l

from helpdesk import settings
from helpdesk.accounts.auth import current_actor
from helpdesk.admin import add_section, bp

PAGE_SIZE = 50
PREFIX_MAX = 50


@bp.get("/changes")
def changes():
    prefix = (request.args.get("action") or "").strip()[:PREFIX_MAX]
    page = settings.change_log(
        current_actor(), action_prefix=prefix, after=request.args.get("after"), limit=PAGE_SIZE
    )
    return render_template(
        "admin/changes.html",
        page=page,
        prefix=prefix,
        kinds=settings.change_kinds(),
        prefix_max=PREFIX_MAX,
    )


add_section(
    _l("Change log"),
    "admin.changes",
    _l("Who changed which setting, team, account or list, and when."),
    order=90,
)
