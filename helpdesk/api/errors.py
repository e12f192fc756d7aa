"""Every API failure as JSON `{"error": {"code", "message", "fields"}}`: never HTML, never a
traceback. Domain errors, validation errors and HTTP errors all end up here."""

import logging

import pydantic
from flask import Blueprint, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from helpdesk import errors
from helpdesk.extensions import db

log = logging.getLogger(__name__)

# Domain errors and the status that fits each.
DOMAIN_STATUS = {
    errors.ValidationError: 422,
    errors.NotFound: 404,
    errors.PermissionDenied: 403,
    errors.InvalidTransition: 409,
    errors.Conflict: 409,
    errors.RateLimited: 429,
}

# A stable code per HTTP status, for clients that branch on it.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    428: "precondition_required",
    429: "rate_limited",
    500: "internal_error",
}


class ApiError(Exception):
    """An answer the API gives on purpose, with its status and code."""

    def __init__(self, status: int, message: str, fields: dict | None = None, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.code = code or HTTP_CODES.get(status, "error")


def error_response(status: int, code: str, message: str, fields: dict | None = None, headers=()):
    response = jsonify({"error": {"code": code, "message": message, "fields": fields or {}}})
    response.status_code = status
    for name, value in headers:
        response.headers[name] = value
    return response


def _field_name(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "body"


def pydantic_fields(exc: pydantic.ValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in exc.errors(include_url=False, include_input=False):
        fields.setdefault(_field_name(item["loc"]), item["msg"])
    return fields


def register(bp: Blueprint) -> None:
    """Install the handlers on the API blueprint (they win over the app's HTML pages)."""

    @bp.errorhandler(ApiError)
    def api_error(exc: ApiError):
        db.session.rollback()
        return error_response(exc.status, exc.code, exc.message, exc.fields)

    @bp.errorhandler(errors.DomainError)
    def domain_error(exc: errors.DomainError):
        db.session.rollback()
        status = DOMAIN_STATUS.get(type(exc), 400)
        headers = []
        if isinstance(exc, errors.RateLimited):
            headers.append(("Retry-After", str(exc.retry_after)))
        return error_response(status, exc.code, exc.message, exc.fields, headers)

    @bp.errorhandler(pydantic.ValidationError)
    def invalid(exc: pydantic.ValidationError):
        db.session.rollback()
        fields = pydantic_fields(exc)
        first = next(iter(fields.items()), ("body", "invalid"))
        message = f"Invalid input: {first[0]}: {first[1]}."
        return error_response(422, "invalid", message, fields)

    @bp.errorhandler(StaleDataError)
    def stale(exc: StaleDataError):
        db.session.rollback()
        return error_response(
            409, "conflict", "The ticket was changed by someone else meanwhile; load it again."
        )

    @bp.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded):
        # Flask-Limiter adds Retry-After and the X-RateLimit-* headers after this.
        return error_response(429, "rate_limited", "Too many requests for this token; slow down.")

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        db.session.rollback()
        status = exc.code or 500
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        message = exc.description or exc.name
        return error_response(status, HTTP_CODES.get(status, "error"), message, None, headers)

    @bp.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled API error on %s %s", request.method, request.path)
        db.session.rollback()
        return error_response(
            500, "internal_error", "An unexpected error happened; it has been logged."
        )
