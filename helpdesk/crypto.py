"""Encryption of stored secrets (mailbox passwords, CRM tokens, webhook secrets).

Keys come from HELPDESK_ENCRYPTION_KEYS, comma-separated, newest first: new values are
encrypted with the first key, and values made with any listed key still decrypt, so a key
can be rotated by putting a new one in front (and `rotate` re-encrypts old values).
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SecretUnreadable(Exception):
    """A stored secret was made with a key that is no longer configured."""


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in current_app.config["HELPDESK_ENCRYPTION_KEYS"].split(",")]
    return MultiFernet([Fernet(key.encode()) for key in keys if key])


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted: its key is missing from HELPDESK_ENCRYPTION_KEYS."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt with the newest key."""
    return _fernet().rotate(token.encode()).decode()
