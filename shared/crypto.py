"""Integration secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under `HANDOFF_SECRET_KEY`.

The variable may hold several keys, comma-separated: the first encrypts, every one decrypts, so a new key can be
put in front, `handoff rotate-secrets` run, and the old key dropped afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import msgspec
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.config import ConfigError


def _fernets(keys: str) -> list[Fernet]:
    """Each key of HANDOFF_SECRET_KEY, first to last; a malformed one stops the process naming its position."""
    fernets = []
    for position, key in enumerate((part.strip() for part in keys.split(",")), start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError) as exc:
            which = "HANDOFF_SECRET_KEY" if "," not in keys else f"key {position} of HANDOFF_SECRET_KEY"
            raise ConfigError(f"{which} must be urlsafe base64 of 32 bytes") from exc
    return fernets


def derived_keys(keys: str, purpose: bytes) -> list[bytes]:
    """One HMAC key per key of HANDOFF_SECRET_KEY, in its order, for `purpose` alone.

    Each is HMAC-SHA256(key, purpose): what it signs can never be mistaken for a Fernet token or for
    another purpose's MAC, and the list follows the variable, so a new key put in front signs from then on
    while the older ones still verify.
    """
    _fernets(keys)  # the same refusal, in the same words, as for the encryption keys
    raw = [base64.urlsafe_b64decode(part.strip().encode()) for part in keys.split(",")]
    return [hmac.new(key, purpose, hashlib.sha256).digest() for key in raw]


class SecretBox:
    def __init__(self, keys: str) -> None:
        self._fernet = MultiFernet(_fernets(keys))

    def seal(self, credentials: dict[str, Any]) -> str:
        """Encrypt under the first key."""
        return self._fernet.encrypt(msgspec.json.encode(credentials)).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        """Decrypt with whichever key sealed it."""
        try:
            opened: dict[str, Any] = msgspec.json.decode(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise ConfigError("stored credentials do not open with HANDOFF_SECRET_KEY (was the key changed?)") from exc
        return opened

    def reseal(self, sealed: str) -> str:
        """The same credentials encrypted under the first key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError("stored credentials do not open with any key in HANDOFF_SECRET_KEY") from exc
