"""App-wide pages and answers: health check, error pages, template helpers."""

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select, text
from werkzeug.exceptions import HTTPException

from helpdesk.errors import DomainError, NotFound, PermissionDenied, RateLimited
from helpdesk.extensions import db

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, PermissionDenied: 403, RateLimited: 429}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 412: "precondition_failed",
    413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
    500: "internal_error", 503: "unavailable",
}  # fmt: skip


def _error_page(status: int, title: str, message: str, fields: dict | None = None):
    if _wants_json():
        code = _CODES.get(status, "error")
        return jsonify(
            {"error": {"code": code, "message": message, "fields": fields or {}}}
        ), status
    return render_template("error.html", status=status, title=title, message=message), status


def healthz():
    """Database, job queue and outbox state, as JSON; 503 when something is down."""
    from helpdesk.outbox.models import OutboxItem, OutboxStatus

    report: dict = {}
    healthy = True
    try:
        db.session.execute(text("SELECT 1"))
        counts = dict(
            db.session.execute(
                select(OutboxItem.status, func.count())
                .where(OutboxItem.status.in_([OutboxStatus.PENDING, OutboxStatus.DEAD]))
                .group_by(OutboxItem.status)
            ).all()
        )
        report["database"] = {"status": "ok", "dialect": db.engine.dialect.name}
        report["outbox"] = {
            "pending": counts.get(OutboxStatus.PENDING, 0),
            "dead": counts.get(OutboxStatus.DEAD, 0),
        }
    except Exception as exc:
        healthy = False
        report["database"] = {"status": "error", "error": exc.__class__.__name__}
    from flask import current_app

    if current_app.config.get("REDIS_URL"):
        try:
            from helpdesk.jobs import queue

            q = queue()
            q.connection.ping()
            report["queue"] = {"status": "ok", "backend": "rq", "queued": q.count}
        except Exception as exc:
            healthy = False
            report["queue"] = {"status": "error", "backend": "rq", "error": exc.__class__.__name__}
    else:
        report["queue"] = {"status": "ok", "backend": "in-process"}
    from helpdesk.mail.mailboxes import mailbox_health

    report["mailboxes"] = mailbox_health() if report["database"]["status"] == "ok" else []
    report["status"] = "ok" if healthy else "error"
    return jsonify(report), 200 if healthy else 503


def init_app(app: Flask) -> None:
    from helpdesk.agent import bp as agent_bp
    from helpdesk.portal import bp as portal_bp

    app.add_url_rule("/healthz", "healthz", healthz)
    app.register_blueprint(portal_bp)
    app.register_blueprint(agent_bp, url_prefix="/agent")

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        status = _STATUS.get(type(exc), 400)
        body, status = _error_page(status, _("Sorry"), exc.translated())
        if isinstance(exc, RateLimited):
            return body, status, {"Retry-After": str(exc.retry_after)}
        return body, status

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _error_page(
            400,
            _("The form expired"),
            _("The page was open too long or was sent twice. Go back, reload it and try again."),
        )

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc):
        message = (
            _("Too many sign-in attempts from your network. Wait a minute and try again.")
            if exc.description == "login"
            else _("Too many requests. Wait a minute and try again.")
        )
        response = _error_page(429, _("Slow down"), message)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        body, status = _error_page(exc.code or 500, exc.name, exc.description or exc.name)
        # Keep what the exception says beyond its body, such as the Allow header of a 405.
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return _error_page(
            500,
            _("Something went wrong"),
            _("An unexpected error happened; it has been logged. Please try again."),
        )

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; object-src 'none';"
            " frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        return response

    @app.context_processor
    def helpers():
        from helpdesk.accounts.auth import current_actor
        from helpdesk.settings import business_name

        return {"actor": current_actor(), "helpdesk_name": business_name()}
