"""Which URLs a webhook may call: HTTPS to public addresses only, so the helpdesk cannot be
turned against the network it runs in (unless HELPDESK_WEBHOOKS_ALLOW_PRIVATE, for tests)."""

import ipaddress
import socket
from typing import NoReturn
from urllib.parse import urlsplit

from flask import current_app

from helpdesk.errors import ValidationError

URL_MAX = 2000


def _allow_private() -> bool:
    return bool(current_app.config.get("HELPDESK_WEBHOOKS_ALLOW_PRIVATE", False))


def _refuse(message: str) -> NoReturn:
    raise ValidationError(message, {"url": message})


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url_syntax(url: str) -> str:
    """The URL, if its form is acceptable (scheme, host, no credentials). Raises ValidationError."""
    url = (url or "").strip()
    if not url or len(url) > URL_MAX:
        _refuse(f"Give a URL of at most {URL_MAX} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        _refuse("That is not a valid URL.")
    allowed = {"https", "http"} if _allow_private() else {"https"}
    if parts.scheme not in allowed:
        _refuse("Webhook URLs must use https.")
    if not parts.hostname:
        _refuse("The URL has no host.")
    if parts.username or parts.password:
        _refuse("Put no credentials in the URL; deliveries are signed instead.")
    if port == 0:
        _refuse("That is not a valid port.")
    return url


def check_target(url: str) -> None:
    """Refuse a URL whose host resolves to any private, loopback or link-local address.

    Called on registration and again before every delivery, since DNS can change.
    """
    check_url_syntax(url)
    if _allow_private():
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        _refuse(f"The host {parts.hostname} cannot be resolved.")
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_is_public(address) for address in addresses):
        _refuse(f"The host {parts.hostname} has a private or local address; that is not allowed.")
