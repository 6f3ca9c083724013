"""Integration secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under `HANDOFF_SECRET_KEY`."""

from __future__ import annotations

from typing import Any

import msgspec
from cryptography.fernet import Fernet, InvalidToken

from shared.config import ConfigError


class SecretBox:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ConfigError("HANDOFF_SECRET_KEY must be urlsafe base64 of 32 bytes") from exc

    def seal(self, credentials: dict[str, Any]) -> str:
        return self._fernet.encrypt(msgspec.json.encode(credentials)).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = msgspec.json.decode(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise ConfigError("stored credentials do not open with HANDOFF_SECRET_KEY (was the key changed?)") from exc
        return opened
