"""The agent console: thin views over the ticket services."""

from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("agent", __name__)


@bp.before_request
@login_required
def require_staff():
    if not current_user.is_staff:
        abort(404)


from helpdesk.agent import views  # noqa: E402,F401
