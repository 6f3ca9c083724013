"""Owners of an account: only an owner changes one, and the last active owner stays.

The main application (`service`) is exempt: it is the source of the directory and may need to repair it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.directory.tables import User
from shared.errors import Forbidden, LastOwner


async def lock_active_owners(db: AsyncSession, account_id: uuid.UUID) -> set[uuid.UUID]:
    """The account's active owners, their rows locked until commit.

    Taken before any other user row and in id order, so two owners demoting each other wait in turn
    (the second then sees the first's change) instead of both seeing two owners, or deadlocking.
    """
    query = (
        select(User.id)
        .where(User.account_id == account_id, User.role == "owner", User.active.is_(True), User.deleted_at.is_(None))
        .order_by(User.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return set((await db.scalars(query)).all())


def check_owner_change(
    principal: Principal, user: User | None, active_owners: set[uuid.UUID], *, stays_active_owner: bool, to_owner: bool
) -> None:
    """Refuse what only an owner may do, and what would leave the account without an active owner."""
    if principal.is_service:
        return
    is_owner = user is not None and user.role == "owner"
    if (is_owner or to_owner) and principal.role != "owner":
        raise Forbidden("only an owner of the account may make, change or remove an owner")
    if user is not None and user.id in active_owners and not stays_active_owner and active_owners == {user.id}:
        raise LastOwner()
