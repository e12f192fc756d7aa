"""The adapter for a configured connection, with the app's HTTP settings."""

from flask import current_app

from helpdesk.crm.bitrix24 import Bitrix24Adapter
from helpdesk.crm.builtin import BuiltinAdapter
from helpdesk.crm.connections import CrmConnection, CrmKind
from helpdesk.crm.hubspot import HubSpotAdapter
from helpdesk.crm.protocol import CrmAdapter, CrmError
from helpdesk.crypto import SecretUnreadable


def http_settings() -> dict:
    """Timeouts and waits from the config (tests shorten them)."""
    config = current_app.config
    settings = {
        "timeout": (
            float(config.get("HELPDESK_CRM_CONNECT_TIMEOUT", 5)),
            float(config.get("HELPDESK_CRM_READ_TIMEOUT", 15)),
        ),
        "attempts": int(config.get("HELPDESK_CRM_ATTEMPTS", 3)),
        "max_wait": float(config.get("HELPDESK_CRM_MAX_WAIT", 20)),
        "backoff": float(config.get("HELPDESK_CRM_BACKOFF", 1.0)),
        "allow_private": bool(config.get("HELPDESK_CRM_ALLOW_PRIVATE", False)),
    }
    if config.get("HELPDESK_CRM_SLEEP") is not None:  # tests: record waits instead of waiting
        settings["sleep"] = config["HELPDESK_CRM_SLEEP"]
    return settings


def adapter_for(connection: CrmConnection) -> CrmAdapter:
    """Raises CrmError when the connection lacks what its kind needs."""
    if connection.kind == CrmKind.BUILTIN:
        return BuiltinAdapter()
    try:
        secret = connection.secret
    except SecretUnreadable as exc:
        raise CrmError(str(exc)) from None
    if not secret:
        raise CrmError(f"The CRM connection {connection.name} has no credentials.")
    if connection.kind == CrmKind.BITRIX24:
        return Bitrix24Adapter(secret, webhook_secret=connection.webhook_secret, **http_settings())
    return HubSpotAdapter(
        secret,
        base_url=connection.base_url,
        web_url=connection.web_url,
        webhook_secret=connection.webhook_secret,
        **http_settings(),
    )
