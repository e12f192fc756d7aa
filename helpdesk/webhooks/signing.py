"""The delivery signature: `sha256=` + hex HMAC-SHA256(secret, f"{timestamp}.{body}")."""

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does; here for tests and for documentation."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature or "")
