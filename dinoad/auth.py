"""Optional password login for LAN pilots: the password is stored only as a salted PBKDF2 hash.

``python -m dinoad hash-password`` prints the line to put into ``.streamlit/secrets.toml``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256
SALT_BYTES = 16
MIN_PASSWORD_LENGTH = 8


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, iterations: int = ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<hash>`` (base64) for ``password``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"use a password of at least {MIN_PASSWORD_LENGTH} characters")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches a hash made by :func:`hash_password`; False for anything else."""
    try:
        algorithm, iterations, salt, digest = stored.split("$")
        if algorithm != ALGORITHM:
            return False
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt, validate=True),
                                     int(iterations))
    except (ValueError, TypeError, AttributeError):
        return False
    return hmac.compare_digest(actual, expected)
