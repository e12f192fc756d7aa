"""API views, one module per resource. Importing this package sets up the blueprint once:
error handlers, token authentication and the per-token rate limit."""

from flask import current_app, request

from helpdesk.api import auth, bp, errors
from helpdesk.extensions import limiter

errors.register(bp)
limiter.limit(auth.rate_limit, key_func=auth.rate_limit_key)(bp)


@bp.before_request
def _authenticate():
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "public", False):
        return
    auth.authenticate()


from helpdesk.api.views import contacts, docs, messages, tickets, webhooks  # noqa: E402,F401
