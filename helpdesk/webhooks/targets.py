"""Which URLs a webhook may call: HTTPS to public addresses only, so the helpdesk cannot be
turned against the network it runs in (unless HELPDESK_WEBHOOKS_ALLOW_PRIVATE, for tests)."""

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app

from helpdesk.errors import ValidationError

URL_MAX = 2000


def _allow_private() -> bool:
    return bool(current_app.config.get("HELPDESK_WEBHOOKS_ALLOW_PRIVATE", False))


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url_syntax(url: str) -> str:
    """The URL, if its form is acceptable (scheme, host, no credentials). Raises ValidationError."""
    url = (url or "").strip()
    if not url or len(url) > URL_MAX:
        raise ValidationError("Give a URL of at most %(max)s characters.", max=URL_MAX).at("url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationError("That is not a valid URL.").at("url") from exc
    allowed = {"https", "http"} if _allow_private() else {"https"}
    if parts.scheme not in allowed:
        raise ValidationError("Webhook URLs must use https.").at("url")
    if not parts.hostname:
        raise ValidationError("The URL has no host.").at("url")
    if parts.username or parts.password:
        raise ValidationError("Put no credentials in the URL; deliveries are signed instead.").at(
            "url"
        )
    if port == 0:
        raise ValidationError("That is not a valid port.").at("url")
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
    except (OSError, UnicodeError) as exc:
        raise ValidationError("The host %(host)s cannot be resolved.", host=parts.hostname).at(
            "url"
        ) from exc
    addresses = {info[4][0] for info in infos}
    if not addresses or not all(_is_public(address) for address in addresses):
        raise ValidationError(
            "The host %(host)s has a private or local address; that is not allowed.",
            host=parts.hostname,
        ).at("url")
