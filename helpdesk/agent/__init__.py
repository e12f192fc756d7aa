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
    from helpdesk.agent.display import ago, short_time
    from helpdesk.agent.nav import nav_for

    return {"console_nav": nav_for(current_actor()), "ago": ago, "short_time": short_time}


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
