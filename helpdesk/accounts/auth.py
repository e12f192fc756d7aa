"""Sign-in and sign-out for every role (Flask-Login), with per-IP and per-account limits.

A session (and a remember-me cookie) stores the user's id with a fingerprint of their password
hash, and is honoured only while that fingerprint still matches: changing or resetting the
password signs out every other session and browser of that user.
"""

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from helpdesk.accounts.actor import Actor
from helpdesk.accounts.forms import LoginForm
from helpdesk.accounts.models import User
from helpdesk.accounts.services import authenticate
from helpdesk.errors import RateLimited, ValidationError
from helpdesk.extensions import db, limiter, login_manager

bp = Blueprint("auth", __name__)


def current_actor() -> Actor | None:
    """The signed-in user as an Actor, or None (views only: services get it passed in)."""
    if not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    # Cached per user, not per context: signing in or out must never leave a stale actor behind.
    actor = g.get("actor")
    if actor is None or actor.user is not user:
        actor = g.actor = Actor.for_user(user)
    return actor


def session_identity(user: User) -> str:
    """What the session stores for `user`: the id and a fingerprint of the password hash."""
    digest = hashlib.sha256(f"session:{user.password_hash or ''}".encode()).hexdigest()
    return f"{user.id}.{digest[:20]}"


def sign_in(user: User, remember: bool = False) -> None:
    """Start a fresh session for `user`: nothing of the previous one survives (no fixation)."""
    session.clear()
    login_user(user, remember=remember)
    session["_user_id"] = session_identity(user)  # also what the remember-me cookie carries


def keep_signed_in(user: User) -> None:
    """After the user changed their own password here: this session (and its remember-me
    cookie) follows the new password; every other session ends."""
    session["_user_id"] = session_identity(user)
    if request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")):
        session["_remember"] = "set"  # Flask-Login rewrites the cookie with the new identity


def home_for(user: User) -> str:
    return url_for("agent.queue") if user.is_staff else url_for("portal.my_tickets")


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so a crafted link cannot send a user elsewhere after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers read a backslash as "/" and drop tabs and newlines: "/\evil.test" leaves the site.
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _login_limit() -> str:
    return current_app.config["HELPDESK_LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], error_message="login")
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except RateLimited as exc:
            db.session.commit()
            flash(exc.translated(), "error")
            page = render_template("auth/login.html", form=form)
            return page, 429, {"Retry-After": str(exc.retry_after)}
        except ValidationError as exc:
            db.session.commit()  # keep the failed-attempt count
            wrong = "password" in exc.fields
            flash(_("Wrong e-mail address or password.") if wrong else exc.translated(), "error")
            status = 401
        else:
            db.session.commit()
            sign_in(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """The session's user, unless disabled or their password changed since it began."""
    user_id = identity.partition(".")[0]
    valid = user_id.isascii() and user_id.isdigit() and len(user_id) <= 9
    user = db.session.get(User, int(user_id)) if valid else None
    if user is None or not user.active:
        return None
    return user if hmac.compare_digest(identity, session_identity(user)) else None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
