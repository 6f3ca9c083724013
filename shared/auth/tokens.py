"""Signed HS256 tokens, as the main application issues them; used by `handoff token` and the demo."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


def issue_token(
    secret: str,
    *,
    user_id: uuid.UUID,
    role: str,
    account_id: uuid.UUID | None = None,
    name: str | None = None,
    email: str | None = None,
    ttl: timedelta = timedelta(hours=12),
) -> str:
    """A token with the contract's claims (`sub`, `account_id`, `role`, `name`, `email`, `exp`)."""
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(user_id),
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if account_id is not None:
        claims["account_id"] = str(account_id)
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
