"""Rows to wire shapes: a directory user."""

from __future__ import annotations

import msgspec

from shared.clock import rfc3339
from shared.directory.schemas import MemberOut, UserOut
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


def member_out(user: User, *, with_email: bool) -> MemberOut:
    return MemberOut(
        id=user.id,
        name=user.name,
        role=user.role,
        active=user.active,
        email=user.email if with_email else msgspec.UNSET,
    )
