"""The JSON API under /api/v1, over the same domain services as the portal and the console,
and the account pages where users manage their API tokens (and admins their webhooks)."""

from flask import Blueprint, Flask

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    import helpdesk.api.models  # noqa: F401  (tables)
    import helpdesk.api.views  # noqa: F401  (operations, error handlers, limits)
    import helpdesk.webhooks.delivery  # noqa: F401  (outbox handlers and subscriptions)
    import helpdesk.webhooks.models  # noqa: F401
    from helpdesk.api.converters import CONVERTERS
    from helpdesk.api.tokens_ui import bp as account_bp
    from helpdesk.extensions import csrf

    app.url_map.converters.update(CONVERTERS)
    # Token-authenticated, no cookies: there is no session for a forged form to ride on.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(account_bp)
