"""The webhook channel's settings: held by the account's connection under provider `webhook` (API.md, Integrations)."""

from __future__ import annotations

from typing import Any

from shared.errors import InvalidInput

PROVIDER = "webhook"
REQUIRED_CREDENTIALS = ("signing_secret",)
MAX_SIGNING_SECRETS = 5


def check_signing_secrets(secrets: list[Any]) -> None:
    """A list of secrets, every one signing, lets a receiver rotate without a gap: 1..5 short strings."""
    if not 1 <= len(secrets) <= MAX_SIGNING_SECRETS or not all(_short_text(item) for item in secrets):
        raise InvalidInput(f"signing_secret must be a string or a list of 1..{MAX_SIGNING_SECRETS} strings")


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and len(value.strip()) > 0 and len(value) <= 4000
