"""The agent console: thin views over the ticket services."""

from flask import Blueprint, abort
from flask_login import current_user, login_required

from helpdesk.tickets import blocklist, console_models, statistics  # noqa: F401  (register)

bp = Blueprint("agent", __name__)


@bp.before_request
@login_required
def require_staff():
    if not current_user.is_staff:
        abort(404)


@bp.context_processor
def console_helpers():
    from helpdesk.accounts.auth import current_actor
    from helpdesk.agent.display import (
        ago,
        channel_label,
        label_for,
        priority_label,
        short_time,
        status_label,
        status_title,
    )
    from helpdesk.agent.nav import nav_for
    from helpdesk.agent.presence import describe

    return {
        "console_nav": nav_for(current_actor()),
        "ago": ago,
        "short_time": short_time,
        "status_label": status_label,
        "status_title": status_title,
        "priority_label": priority_label,
        "channel_label": channel_label,
        "label_for": label_for,
        "describe_presence": describe,
    }


from helpdesk.agent import (  # noqa: E402,F401
    actions,
    dashboard,
    files,
    inbound,
    outbound,
    presence,
    queue,
    search,
    ticket,
)
