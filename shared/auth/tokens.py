"""Signed HS256 tokens, as the main application issues them: verified here, and minted by `handoff token`."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

ALGORITHM = "HS256"
# Clocks of two hosts differ: a token minted by a host a little ahead or behind is still good.
LEEWAY_S = 60


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed, expired or not yet valid."""


# Tokens already verified, with their claims: a client sends the same token on every call for hours,
# so its signature is checked once. Only `exp` can turn a verified token bad; it is checked on every hit.
VERIFIED_KEPT = 10_000
_verified: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()


def verify_token(secret: str, encoded: str) -> dict[str, Any]:
    """The claims of a token signed with `secret`; `exp` is required, `iat` and `nbf` are checked when present."""
    key = (secret, encoded)
    known = _verified.get(key)
    if known is not None:
        if time.time() >= known["exp"] + LEEWAY_S:  # as PyJWT has it
            del _verified[key]
            raise InvalidToken("Signature has expired")
        _verified.move_to_end(key)
        return dict(known)
    claims = _decode(secret, encoded)
    if isinstance(claims.get("exp"), int | float) and not isinstance(claims["exp"], bool):
        _verified[key] = claims
        if len(_verified) > VERIFIED_KEPT:
            _verified.popitem(last=False)
    return dict(claims)


def _decode(secret: str, encoded: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            encoded,
            secret,
            algorithms=[ALGORITHM],
            leeway=LEEWAY_S,
            options={"require": ["exp", "sub"], "verify_aud": False, "verify_iss": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if not isinstance(claims, dict):
        raise InvalidToken("the token's payload is not an object")
    return claims


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
    claims: dict[str, object] = {"sub": str(user_id), "role": role, "exp": int((now + ttl).timestamp())}
    if account_id is not None:
        claims["account_id"] = str(account_id)
    if name:
        claims["name"] = name
    if email:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
