"""Encrypting stored secrets with the app's Fernet keys (newest first, older ones still read)."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _fernet() -> MultiFernet:
    keys = [k.strip() for k in current_app.config["HELPDESK_ENCRYPTION_KEYS"].split(",")]
    return MultiFernet([Fernet(key) for key in keys if key])


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """Raises ValueError when no configured key opens the token."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("the stored secret cannot be decrypted with the configured keys") from None
