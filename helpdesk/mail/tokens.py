"""The signed reply token (CONTRACT.md), used by outbound and inbound mail alike.

A token is `t<number>.<sig>`: `<sig>` is the first 10 characters of the lowercase base32 of
HMAC-SHA256(key, "ticket:<number>"), the key derived from SECRET_KEY. It goes into our
Message-IDs (`<TOKEN.<random>@<host>>`) and a plus-addressed Reply-To, so a reply finds its
ticket even when the subject was changed, and nobody can forge one for another ticket.
"""

import base64
import hashlib
import hmac
import re
import secrets

SIG_LENGTH = 10
TOKEN_RE = re.compile(r"\bt(\d{1,12})\.([a-z2-7]{10})\b", re.IGNORECASE)


def _key(secret_key: str) -> bytes:
    # A key of its own, so a token never doubles as any other signature made with SECRET_KEY.
    return hmac.new(secret_key.encode(), b"helpdesk reply token", hashlib.sha256).digest()


def _signature(number: int, secret_key: str) -> str:
    digest = hmac.new(_key(secret_key), f"ticket:{number}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:SIG_LENGTH]


def reply_token(number: int, secret_key: str) -> str:
    return f"t{number}.{_signature(number, secret_key)}"


def verify_token(token: str, secret_key: str) -> int | None:
    """The ticket number a well-formed, correctly signed token names, else None."""
    match = TOKEN_RE.fullmatch(token.strip())
    if match is None:
        return None
    number = int(match.group(1))
    if not hmac.compare_digest(match.group(2).lower(), _signature(number, secret_key)):
        return None
    return number


def find_tokens(text: str, secret_key: str) -> list[int]:
    """Ticket numbers of every valid token in `text` (a Message-ID, an address), in order."""
    numbers = []
    for match in TOKEN_RE.finditer(text or ""):
        number = verify_token(match.group(0), secret_key)
        if number is not None and number not in numbers:
            numbers.append(number)
    return numbers


def message_id(number: int, secret_key: str, host: str) -> str:
    """A fresh Message-ID that carries the ticket's token."""
    return f"<{reply_token(number, secret_key)}.{secrets.token_hex(8)}@{host}>"


def reply_to_address(address: str, number: int, secret_key: str, separator: str = "+") -> str:
    """`local+TOKEN@domain` for the mailbox address `local@domain`."""
    local, _, domain = address.rpartition("@")
    return f"{local}{separator}{reply_token(number, secret_key)}@{domain}"
