"""Token verification: a verified token is remembered, but never past its expiry."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from shared.auth.tokens import LEEWAY_S, InvalidToken, verify_token

SECRET = "s" * 40


def token(exp: float, secret: str = SECRET) -> str:
    return jwt.encode({"sub": str(uuid.uuid4()), "role": "engineer", "exp": int(exp)}, secret, algorithm="HS256")


def test_a_remembered_token_still_expires() -> None:
    exp = int(time.time() - LEEWAY_S + 1.5)  # within the leeway for another second or so
    almost = token(exp)
    assert verify_token(SECRET, almost)["role"] == "engineer"
    assert verify_token(SECRET, almost)["role"] == "engineer"  # from memory
    while time.time() <= exp + LEEWAY_S + 0.1:  # until the leeway has run out
        time.sleep(0.05)  # real time must pass: the expiry and its leeway, on the wall clock the JWT library reads
    with pytest.raises(InvalidToken):
        verify_token(SECRET, almost)
    with pytest.raises(InvalidToken):
        verify_token(SECRET, almost)  # and it stays refused


def test_a_remembered_token_is_not_good_under_another_secret() -> None:
    good = token(time.time() + 600)
    assert verify_token(SECRET, good)
    with pytest.raises(InvalidToken):
        verify_token("t" * 40, good)


def test_callers_get_their_own_copy_of_the_claims() -> None:
    good = token(time.time() + 600)
    verify_token(SECRET, good)["role"] = "owner"
    assert verify_token(SECRET, good)["role"] == "engineer"
