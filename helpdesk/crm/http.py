"""A small HTTP client for CRM APIs: timeouts, rate limits, back-off, and no secrets in logs.

Only https to public addresses is allowed, so a CRM URL cannot turn the helpdesk against the
network it runs in; HELPDESK_CRM_ALLOW_PRIVATE (tests) lifts that. Redirects are not
followed for the same reason. Every error message is stripped of the secrets the client was
given (a Bitrix24 webhook URL is a password), and so is every log line.
"""

import email.utils
import ipaddress
import json
import logging
import random
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import requests

from helpdesk.crm.protocol import CrmAuthError, CrmError, CrmRateLimited

log = logging.getLogger(__name__)

# Secrets of every client made in this process, blanked out of urllib3's debug log too
# (it writes each request's path, and a Bitrix24 webhook's path holds its secret).
_SECRETS: set[str] = set()


def _blank(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg, record.args = _blank(record.getMessage()), ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactSecrets())

DEFAULT_TIMEOUT = (5.0, 15.0)  # connect, read (seconds)


class UrlRefused(CrmError):
    """The URL is not https or points into a private network."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool = False) -> str:
    """The URL if a CRM may be called there; raises UrlRefused otherwise."""
    try:
        parts = urlsplit((url or "").strip())
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise UrlRefused("That is not a valid URL.") from None
    if parts.scheme not in ({"https", "http"} if allow_private else {"https"}):
        raise UrlRefused("CRM addresses must use https.")
    if not parts.hostname or parts.username or parts.password:
        raise UrlRefused("Give the CRM's address without user name or password.")
    if not allow_private:
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise UrlRefused(f"The host {parts.hostname} cannot be resolved.") from None
        if not all(_is_public(info[4][0]) for info in infos):
            raise UrlRefused(f"The host {parts.hostname} has a private or local address.")
    return url.strip()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class HttpClient:
    """Calls one CRM. `sleep` and `max_wait` exist so tests need not wait."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict | None = None,
        secrets: tuple[str, ...] = (),
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        attempts: int = 3,
        max_wait: float = 20.0,
        backoff: float = 1.0,
        allow_private: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        rate_limited: Callable[[requests.Response], float | None] | None = None,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = headers or {}
        self.secrets = tuple(s for s in secrets if s)
        _SECRETS.update(self.secrets)
        self.timeout = timeout
        self.attempts = attempts
        self.max_wait = max_wait
        self.backoff = backoff
        self.allow_private = allow_private
        self.sleep = sleep
        # An adapter's own reading of "slow down" (Bitrix24 says it in the body).
        self.rate_limited = rate_limited
        self.not_before = 0.0  # monotonic time before which no request is sent
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy from the environment would see the secrets

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(min(seconds, self.max_wait))

    def _jitter(self, attempt: int) -> float:
        return self.backoff * (2 ** (attempt - 1)) * random.uniform(0.5, 1.5)

    def request(
        self,
        method: str,
        path: str,
        *,
        params=None,
        json_body=None,
        data=None,
        idempotent: bool = True,
    ):
        """The decoded JSON answer. Raises CrmError (and its kinds) on every failure.

        A request that may have changed something (`idempotent=False`) is never repeated
        after it may have reached the CRM: the caller looks before it writes again.
        """
        url = urljoin(self.base_url, path.lstrip("/"))
        check_url(url, self.allow_private)
        for attempt in range(1, self.attempts + 1):
            self._wait(self.not_before - time.monotonic())
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    data=data,
                    headers=self.headers,
                    timeout=self.timeout,
                    allow_redirects=False,
                )
            except requests.ConnectTimeout:
                error = CrmError(f"{method} {self._where(url)}: connection timed out")
            except requests.Timeout:
                # The request went out: the CRM may have done it.
                error = CrmError(
                    f"{method} {self._where(url)}: no answer in time", maybe_delivered=True
                )
                if not idempotent:
                    raise error from None
            except requests.ConnectionError:
                error = CrmError(f"{method} {self._where(url)}: cannot connect")
            except requests.RequestException as exc:
                raise CrmError(self.redact(f"{method} {self._where(url)}: {exc}")) from None
            else:
                outcome = self._outcome(method, url, response, attempt, idempotent)
                if not isinstance(outcome, CrmError):
                    return outcome
                error = outcome
            log.warning("CRM call failed (attempt %s): %s", attempt, error.message)
            if attempt < self.attempts:
                self._wait(self._jitter(attempt))
        raise error

    def _where(self, url: str) -> str:
        parts = urlsplit(url)
        return self.redact(f"{parts.hostname}{parts.path}")

    def _remember_limits(self, response: requests.Response) -> None:
        # HubSpot tells how many calls are left in the current window and how long it is.
        remaining = response.headers.get("X-HubSpot-RateLimit-Remaining")
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if remaining is not None and remaining.strip() == "0":
            wait = float(interval) / 1000 if interval and interval.isdigit() else 1.0
            self.not_before = time.monotonic() + wait
        secondly = response.headers.get("X-HubSpot-RateLimit-Secondly-Remaining")
        if secondly is not None and secondly.strip() == "0":
            self.not_before = max(self.not_before, time.monotonic() + 1.0)

    def _outcome(self, method, url, response, attempt, idempotent):
        """The JSON body, or the CrmError to retry (or raise, once attempts run out)."""
        self._remember_limits(response)
        where = f"{method} {self._where(url)}"
        status = response.status_code
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if self.rate_limited is not None and wait is None:
            wait = self.rate_limited(response)
        if status == 429 or (status == 503 and wait is not None):
            wait = self._jitter(attempt) if wait is None else wait
            if wait > self.max_wait or attempt == self.attempts:
                raise CrmRateLimited(f"{where}: rate limited (HTTP {status})", wait)
            self.sleep(wait)
            return CrmError(f"{where}: rate limited (HTTP {status})", status=status)
        if status in (401, 403):
            raise CrmAuthError(f"{where}: refused the credentials (HTTP {status})", status=status)
        if status >= 500:
            error = CrmError(f"{where}: HTTP {status}", status=status, maybe_delivered=True)
            if not idempotent:
                raise error
            return error
        if 300 <= status < 400:
            raise CrmError(f"{where}: redirected (HTTP {status}); check the address")
        try:
            body = response.json() if response.content else {}
        except (ValueError, json.JSONDecodeError):
            raise CrmError(
                f"{where}: the answer is not JSON (HTTP {status})", status=status
            ) from None
        if status >= 400:
            return self._client_error(where, status, body)
        return body

    def _client_error(self, where: str, status: int, body):
        message, code = "", None
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("error_description") or "")[:200]
            code = str(body.get("error") or body.get("category") or "") or None
        raise CrmError(
            self.redact(f"{where}: HTTP {status} {message}".strip()), status=status, code=code
        )
