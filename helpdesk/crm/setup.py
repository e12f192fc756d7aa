"""Admins configure CRM connections: credentials checked for form, stored encrypted."""

import re

from flask import current_app
from sqlalchemy import select

from helpdesk.crm import bitrix24
from helpdesk.crm.adapters import adapter_for
from helpdesk.crm.connections import (
    CrmConnection,
    CrmKind,
    record_failure,
    record_success,
)
from helpdesk.crm.http import check_url
from helpdesk.crm.protocol import CrmError
from helpdesk.errors import Conflict, PermissionDenied, ValidationError
from helpdesk.extensions import db

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,49}$")


def _require_admin(actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only admins can configure CRM connections.")


def _allow_private() -> bool:
    return bool(current_app.config.get("HELPDESK_CRM_ALLOW_PRIVATE", False))


def _checked_url(url: str, field: str) -> str:
    try:
        return check_url(url, _allow_private())
    except CrmError as exc:
        raise ValidationError(exc.message, {field: exc.message}) from None


def save_connection(actor, connection: CrmConnection | None, data: dict) -> CrmConnection:
    """Create or update a connection. A blank secret keeps the stored one.

    `data`: name, kind (new connections), base_url, secret, webhook_secret, snapshot_ttl
    (seconds), active.
    """
    _require_admin(actor)
    name = (data.get("name") or "").strip().lower()
    if not NAME.match(name):
        raise ValidationError(
            "Name the connection with lower-case letters, digits, - . _", {"name": "Invalid."}
        )
    clash = db.session.execute(
        select(CrmConnection).where(CrmConnection.name == name)
    ).scalar_one_or_none()
    if clash is not None and clash is not connection:
        raise Conflict(
            "A connection named %(name)s exists already.", {"name": "In use."}, name=name
        )
    if connection is None:
        try:
            kind = CrmKind(data.get("kind"))
        except ValueError:
            raise ValidationError("Choose HubSpot or Bitrix24.", {"kind": "Invalid."}) from None
        if kind == CrmKind.BUILTIN:
            raise ValidationError("The built-in CRM is always there.", {"kind": "Invalid."})
        connection = CrmConnection(kind=kind, created_by_id=actor.user.id)
        db.session.add(connection)
    connection.name = name
    secret = (data.get("secret") or "").strip()
    if connection.kind == CrmKind.BITRIX24:
        connection.base_url = None
        if secret:
            try:
                portal, _ = bitrix24.parse_webhook(secret)
            except ValueError as exc:
                raise ValidationError(str(exc), {"secret": "Not a webhook URL."}) from None
            _checked_url(secret, "secret")
            connection.web_url = portal
    else:
        base = (data.get("base_url") or "").strip() or None
        connection.base_url = _checked_url(base, "base_url").rstrip("/") if base else None
    if secret:
        connection.secret = secret
    if not connection.secret_encrypted:
        raise ValidationError("Give the token or webhook URL.", {"secret": "Required."})
    if (data.get("webhook_secret") or "").strip():
        connection.webhook_secret = data["webhook_secret"].strip()
    connection.snapshot_ttl = int(data.get("snapshot_ttl") or 3600)
    connection.active = bool(data.get("active", True))
    db.session.flush()
    return connection


def check_connection(actor, connection: CrmConnection) -> str:
    """Call the CRM now (an admin pressed "Test"); record the outcome. Raises CrmError."""
    _require_admin(actor)
    try:
        adapter = adapter_for(connection)
        description = adapter.health_check()
    except CrmError as exc:
        record_failure(connection.id, exc.message)
        raise
    web_url = getattr(adapter, "web_url", None)
    if web_url:
        connection.web_url = web_url
    record_success(connection.id)
    db.session.flush()
    return description


def delete_connection(actor, connection: CrmConnection) -> None:
    _require_admin(actor)
    db.session.delete(connection)
    db.session.flush()
