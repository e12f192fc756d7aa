"""The helpdesk: create_app() builds the Flask app; nothing happens at import time."""

import logging
import os

from dotenv import load_dotenv
from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    load_dotenv(os.path.join(os.getcwd(), ".env"))
    app = Flask(__name__, instance_relative_config=True)

    from helpdesk.config import load_config

    app.config.update(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("OUTBOX_DISPATCH", "rq" if app.config.get("REDIS_URL") else "thread")
    _configure_logging(app)

    # Imported to register their tables, outbox handlers and event subscriptions.
    from helpdesk import extensions, i18n, models, notifications, periodic, settings  # noqa: F401
    from helpdesk.accounts import mails  # noqa: F401
    from helpdesk.crm import sync as crm_sync  # noqa: F401
    from helpdesk.db import configure_engine

    extensions.db.init_app(app)
    extensions.migrate.init_app(
        app, extensions.db, directory=_migrations_dir(), render_as_batch=True
    )
    extensions.mail.init_app(app)
    extensions.csrf.init_app(app)
    extensions.limiter.init_app(app)
    i18n.init_app(app)
    with app.app_context():
        configure_engine(extensions.db.engine)

    from helpdesk.outbox import dispatch

    dispatch.init_app(app, extensions.db.session)

    from helpdesk.accounts import auth

    auth.init_app(app)

    from helpdesk import admin, api, web
    from helpdesk.crm import views as crm_views

    web.init_app(app)
    api.init_app(app)
    notifications.init_app(app)  # outbound-mail settings and the "not solved" page
    crm_views.init_app(app)
    admin.init_app(app)

    from helpdesk.cli import register_commands

    register_commands(app)
    return app


def _migrations_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def _configure_logging(app: Flask) -> None:
    # Alembic announces its plugins at INFO on every command; that is noise for users.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=os.environ.get("LOG_LEVEL", "INFO"),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
