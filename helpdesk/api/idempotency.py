"""Idempotency-Key on POST: the first answer is stored with the change it made, in the same
transaction; a retry gets that answer back instead of acting twice."""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from flask import Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from helpdesk.api.errors import ApiError
from helpdesk.api.models import IdempotencyKey
from helpdesk.errors import Conflict
from helpdesk.extensions import db
from helpdesk.periodic import periodic
from helpdesk.timeutil import utcnow

KEY_MAX = 255
KEEP = timedelta(hours=24)
REPLAYED_HEADERS = ("Location", "ETag")


def fingerprint(parts: dict) -> str:
    """A hash of the parsed request, so equal bodies match however they were encoded."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _find(user_id: int, key: str) -> IdempotencyKey | None:
    return db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).scalar_one_or_none()


def _replay(row: IdempotencyKey, method: str, path: str, request_hash: str) -> Response:
    if (row.method, row.path, row.request_hash) != (method, path, request_hash):
        raise ApiError(
            422,
            "This Idempotency-Key was used for a different request; use a new key.",
            {"Idempotency-Key": "Already used for another request."},
            code="idempotency_key_reused",
        )
    if row.response_status is None:
        raise Conflict("A request with this Idempotency-Key is still being processed.")
    response = Response(row.response_body, status=row.response_status, mimetype="application/json")
    for name, value in json.loads(row.response_headers or "{}").items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def run(
    user_id: int, key: str, method: str, path: str, request_hash: str, call: Callable[[], Response]
) -> Response:
    """Answer with the stored response for (user, key), or call the view and store its answer.

    Only successful answers are stored: a failed request changed nothing and may be retried.
    """
    if not key.strip() or len(key) > KEY_MAX:
        raise ApiError(
            422,
            f"Idempotency-Key must have 1 to {KEY_MAX} characters.",
            {"Idempotency-Key": "Invalid."},
        )
    path = path[:500]
    existing = _find(user_id, key)
    if existing is not None:
        return _replay(existing, method, path, request_hash)
    row = IdempotencyKey(
        user_id=user_id,
        key=key,
        method=method,
        path=path,
        request_hash=request_hash,
        created_at=utcnow(),
    )
    db.session.add(row)
    try:
        # The transaction's first write. A concurrent request with the same key waits here
        # until the first one commits, then fails on the unique constraint.
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # nothing else was done in this transaction yet
        existing = _find(user_id, key)
        if existing is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed."
            ) from None
        return _replay(existing, method, path, request_hash)
    response = call()
    if response.status_code >= 300:
        db.session.delete(row)
        return response
    row.response_status = response.status_code
    row.response_body = response.get_data(as_text=True)
    row.response_headers = json.dumps(
        {name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers}
    )
    return response


@periodic("api.expire_idempotency_keys", every=timedelta(hours=1))
def expire_idempotency_keys() -> int:
    """Forget stored answers after a day; a retry that late is a new request."""
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < utcnow() - KEEP)
    )
    return result.rowcount
