"""Bearer-token authentication for the API, and the rate-limit key (one bucket per token)."""

import hashlib

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.models import User
from helpdesk.accounts.services import user_for_token
from helpdesk.errors import PermissionDenied
from helpdesk.extensions import db


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def rate_limit_key() -> str:
    token = _bearer_token()
    if token is None:
        return f"ip:{get_remote_address()}"
    return "token:" + hashlib.sha256(token.encode()).hexdigest()


def rate_limit() -> str:
    return current_app.config.get("HELPDESK_API_RATE_LIMIT", "600 per minute")


def authenticate() -> None:
    """Find the token's user (before every non-public API view). Raises 401."""
    token = _bearer_token()
    user = user_for_token(token) if token and len(token) <= 200 else None
    if user is None:
        raise Unauthorized(
            "Send a valid API token: `Authorization: Bearer <token>`.",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "helpdesk"}),
        )
    # Keep "last used" and end this short transaction before the real work starts.
    db.session.commit()
    # `g` lives as long as the app context, which may span requests: reset the actor too.
    g.api_user_id = user.id
    g.api_actor = None


def api_user() -> User:
    return db.session.get(User, g.api_user_id)


def api_actor() -> Actor:
    """The token's user as an Actor (cached for the request)."""
    actor = g.get("api_actor")
    if actor is None:
        actor = g.api_actor = Actor.for_user(api_user())
    return actor


def require_staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise PermissionDenied("Only agents and admins can do that.")
