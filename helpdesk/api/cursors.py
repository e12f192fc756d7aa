"""Opaque page cursors: the sort key of the last item seen, never an OFFSET."""

import base64
import binascii
import json
from datetime import datetime

from helpdesk.api.errors import ApiError
from helpdesk.api.schemas.common import DB_INT_MAX


def encode(*key) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid() -> ApiError:
    return ApiError(422, "The cursor is not one this API gave out.", {"cursor": "Invalid."})


def _decode(cursor: str) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _invalid() from None
    if not isinstance(values, list):
        raise _invalid()
    return values


def _id(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= DB_INT_MAX:
        raise _invalid()
    return value


def decode_id(cursor: str) -> int:
    values = _decode(cursor)
    if len(values) != 1:
        raise _invalid()
    return _id(values[0])


def decode_time_id(cursor: str) -> tuple[datetime, int]:
    values = _decode(cursor)
    if len(values) != 2 or not isinstance(values[0], str):
        raise _invalid()
    try:
        moment = datetime.fromisoformat(values[0])
    except ValueError:
        raise _invalid() from None
    if moment.tzinfo is not None:
        raise _invalid()
    return moment, _id(values[1])
