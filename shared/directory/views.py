"""Rows to wire shapes: a directory user."""

from __future__ import annotations

from shared.clock import rfc3339
from shared.directory.schemas import UserOut
from shared.directory.tables import User


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        account_id=user.account_id,
        email=user.email,
        name=user.name,
        role=user.role,
        active=user.active,
        deleted_at=rfc3339(user.deleted_at) if user.deleted_at else None,
    )
