"""Pick-up tokens: derived, never stored.

token = base64url(HMAC-SHA256(key, "pick-up" | salt | handoff id | user id)), 43 characters: 256 bits of
MAC over a 128-bit random salt. The database holds the salt and SHA-256 of the token; the key is one of
HANDOFF_SECRET_KEY's. Neither alone gives a token back, and the key list lets a reminder re-derive the
link its first email carried after a new key was put in front.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence

from shared.crypto import derived_keys

TOKEN_CHARS = 43
SALT_BYTES = 16
PURPOSE = b"handoff pick-up link v1"
_LABEL = b"pick-up"
_WELL_FORMED = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_CHARS}}}")


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def well_formed(token: str) -> bool:
    """Whether `token` could be one of ours; anything else is not looked up at all."""
    return _WELL_FORMED.fullmatch(token) is not None


class LinkKeys:
    """The keys tokens are derived with, newest first (the order of HANDOFF_SECRET_KEY)."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._keys = tuple(keys)

    @classmethod
    def from_secret(cls, secret_key: str) -> LinkKeys:
        return cls(derived_keys(secret_key, PURPOSE))

    def token(self, salt: bytes, handoff_id: uuid.UUID, user_id: uuid.UUID) -> str:
        """A new link's token, under the first key."""
        return _derive(self._keys[0], salt, handoff_id, user_id)

    def rederive(self, salt: bytes, handoff_id: uuid.UUID, user_id: uuid.UUID, stored_hash: str) -> str | None:
        """The token whose hash is `stored_hash`, under whichever key made it; None if no key still does."""
        for key in self._keys:
            token = _derive(key, salt, handoff_id, user_id)
            if hmac.compare_digest(token_hash(token), stored_hash):
                return token
        return None


def _derive(key: bytes, salt: bytes, handoff_id: uuid.UUID, user_id: uuid.UUID) -> str:
    # Every field has a fixed length, so the concatenation reads one way only.
    message = b"|".join((_LABEL, salt, handoff_id.bytes, user_id.bytes))
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")
