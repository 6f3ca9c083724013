"""The user directory: synced by the main application, consulted on every authenticated call."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import ROLES, Principal
from shared.clock import rfc3339, utcnow
from shared.db.models import Account, User
from shared.directory.schemas import UserOut, UserPut
from shared.errors import Forbidden, NotFound


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        account_id=user.account_id,
        email=user.email,
        name=user.name,
        role=user.role,  # type: ignore[arg-type]
        active=user.active,
        deleted_at=rfc3339(user.deleted_at) if user.deleted_at else None,
    )


def ensure_directory_manager(principal: Principal, account_id: uuid.UUID) -> None:
    """The main application (service) or an owner/admin of that very account."""
    if principal.is_service:
        return
    if not principal.in_account(account_id):
        raise NotFound("account")
    if not principal.is_account_admin:
        raise Forbidden("only an owner or admin of the account can change its directory")


async def ensure_account(db: AsyncSession, account_id: uuid.UUID) -> None:
    """Create the account row if this is the first we hear of it (safe under concurrency)."""
    dialect = db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(Account).values(id=account_id, created_at=utcnow()).on_conflict_do_nothing()
    await db.execute(statement)


async def put_user(
    db: AsyncSession, principal: Principal, account_id: uuid.UUID, user_id: uuid.UUID, body: UserPut
) -> UserOut:
    """Create or replace a directory user; a PUT after a DELETE restores the user."""
    ensure_directory_manager(principal, account_id)
    await ensure_account(db, account_id)
    user = await db.get(User, user_id, with_for_update=True)
    if user is not None and user.account_id != account_id:
        raise NotFound("user")
    if user is None:
        user = User(id=user_id, account_id=account_id)
        db.add(user)
    user.email = body.email
    user.name = body.name
    user.role = body.role
    user.active = body.active
    user.deleted_at = None
    await db.flush()
    out = user_out(user)
    await db.commit()
    return out


async def delete_user(db: AsyncSession, principal: Principal, account_id: uuid.UUID, user_id: uuid.UUID) -> UserOut:
    """Soft-delete: the row stays (for history) but the user can no longer sign in."""
    ensure_directory_manager(principal, account_id)
    user = await db.get(User, user_id, with_for_update=True)
    if user is None or user.account_id != account_id:
        raise NotFound("user")
    if user.deleted_at is None:
        user.deleted_at = utcnow()
    await db.flush()
    out = user_out(user)
    await db.commit()
    return out


async def principal_from_claims(db: AsyncSession, claims: dict[str, Any]) -> Principal | None:
    """Turn verified token claims into a Principal, or None when the caller must be refused (401).

    The directory wins over the token: an inactive or deleted row refuses the user, and the
    row's role, name and email replace the token's.
    """
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        role = str(claims["role"])
        raw_account = claims.get("account_id")
        account_id = uuid.UUID(str(raw_account)) if raw_account else None
    except (KeyError, ValueError):
        return None
    if role not in ROLES or (role != "service" and account_id is None):
        return None
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    email = claims.get("email") if isinstance(claims.get("email"), str) else None

    if role != "service":
        row = (await db.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
        if row is not None:
            if not row.active or row.deleted_at is not None or row.account_id != account_id:
                return None
            role, name, email = row.role, row.name, row.email
    return Principal(
        user_id=user_id,
        account_id=account_id,
        role=role,  # type: ignore[arg-type]
        name=name or email or f"user {str(user_id)[:8]}",
        email=email,
    )
