"""Rate limits of the portal's forms (Flask-Limiter): per IP address, and per account or per
target address where there is one. The limits themselves are settings (HELPDESK_*_RATE_LIMIT)."""

import hashlib

from flask import current_app, request
from flask_login import current_user

from helpdesk.extensions import limiter


def _setting(name: str):
    return lambda: current_app.config[name]


def _account_key() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"ip:{request.remote_addr}"


def _address_key() -> str:
    """The address a form sends mail to: one mailbox cannot be flooded from many IPs."""
    return "address:" + (request.form.get("email") or "").strip().lower()[:254]


def _link_key() -> str:
    token = (request.view_args or {}).get("token", "")
    return "link:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def per_ip(setting: str):
    return limiter.limit(_setting(setting), methods=["POST"])


def per_account(setting: str):
    return limiter.limit(_setting(setting), key_func=_account_key, methods=["POST"])


def per_address(setting: str):
    return limiter.limit(_setting(setting), key_func=_address_key, methods=["POST"])


def per_link(setting: str):
    return limiter.limit(_setting(setting), key_func=_link_key, methods=["POST"])
