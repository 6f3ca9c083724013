"""The user directory: synced by the main application, consulted on every authenticated call."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import ROLES, Principal
from shared.clock import utcnow
from shared.db.uow import before_transaction
from shared.db.upsert import insert_missing
from shared.directory.owners import check_owner_change, lock_active_owners
from shared.directory.schemas import DirectoryNotice, MemberList, UserOut, UserPut
from shared.directory.tables import Account, User
from shared.directory.views import member_out, user_out
from shared.directory.who import (
    Standing,
    may_act,
    may_see_emails,
    may_stream,
    require_account_manager,
    require_account_reader,
    standing_of,
)
from shared.errors import NotFound, UserInOtherAccount
from shared.outbox.writer import add_event

# Directory changes travel on a stream of their own, which no account has (the nil id): every API
# replica tails it so open streams follow the directory; no client ever reads it.
DIRECTORY_STREAM = uuid.UUID(int=0)
DIRECTORY_EVENT = "directory_user_changed"


async def ensure_account(db: AsyncSession, account_id: uuid.UUID) -> None:
    """Create the account row if this is the first we hear of it (safe under concurrency)."""
    await insert_missing(db, Account, {"id": account_id, "created_at": utcnow()})


async def put_user(
    db: AsyncSession, principal: Principal, account_id: uuid.UUID, user_id: uuid.UUID, body: UserPut
) -> UserOut:
    """Create or replace a directory user; a PUT after a DELETE restores the user.

    Only the main application creates users or moves one between accounts; an owner or admin edits
    the users their own account already has, and only an owner edits an owner (see owners.py).
    """
    require_account_manager(principal, account_id)
    owners = set() if principal.is_service else await lock_active_owners(db, account_id)
    user = await db.get(User, user_id, with_for_update=True, populate_existing=True)
    if not principal.is_service and (user is None or user.account_id != account_id):
        raise NotFound("user")
    if user is not None and user.account_id != account_id and not body.move:
        raise UserInOtherAccount()
    stays = body.role == "owner" and body.active
    check_owner_change(principal, user, owners, stays_active_owner=stays, to_owner=body.role == "owner")
    await ensure_account(db, account_id)
    if user is None:
        user = User(id=user_id, account_id=account_id)
        db.add(user)
    previous_account = user.account_id
    user.account_id = account_id
    user.email = body.email
    user.name = body.name
    user.role = body.role
    user.active = body.active
    user.deleted_at = None
    await db.flush()
    announce_user_change(db, user)
    if previous_account is not None and previous_account != account_id:
        announce_user_change(db, user, account_id=previous_account)
    return user_out(user)


async def delete_user(db: AsyncSession, principal: Principal, account_id: uuid.UUID, user_id: uuid.UUID) -> UserOut:
    """Soft-delete: the row stays (for history) but the user can no longer sign in."""
    require_account_manager(principal, account_id)
    owners = set() if principal.is_service else await lock_active_owners(db, account_id)
    user = await db.get(User, user_id, with_for_update=True, populate_existing=True)
    if user is None or user.account_id != account_id:
        raise NotFound("user")
    check_owner_change(principal, user, owners, stays_active_owner=False, to_owner=False)
    if user.deleted_at is None:
        user.deleted_at = utcnow()
    await db.flush()
    announce_user_change(db, user)
    return user_out(user)


async def list_members(db: AsyncSession, principal: Principal, account_id: uuid.UUID) -> MemberList:
    """The account's users that are not deleted, by name; inactive ones too, marked so."""
    require_account_reader(principal, account_id)
    query = select(User).where(User.account_id == account_id, User.deleted_at.is_(None))
    # Sorted here, not in SQL: each database's collation orders names its own way; this is one order everywhere.
    users = sorted((await db.execute(query)).scalars().all(), key=lambda user: (user.name, str(user.id)))
    with_email = may_see_emails(principal)
    return MemberList(items=[member_out(user, with_email=with_email) for user in users])


def announce_user_change(db: AsyncSession, user: User, *, account_id: uuid.UUID | None = None) -> None:
    """Tell every API replica, once this commits, so open streams follow the directory."""
    account = account_id or user.account_id
    add_event(
        db,
        account_id=DIRECTORY_STREAM,
        event_type=DIRECTORY_EVENT,
        payload=msgspec.to_builtins(
            DirectoryNotice(
                type=DIRECTORY_EVENT,
                account_id=account,
                user_id=user.id,
                may_stream=may_stream(standing_of(user), account),
            )
        ),
    )


async def users_refused_streams(db: AsyncSession, holders: set[tuple[uuid.UUID, uuid.UUID]]) -> set[uuid.UUID]:
    """Of these (user, account) stream holders, those the directory now refuses.

    A user the directory does not know keeps the stream: their token's claims are trusted.
    """
    if not holders:
        return set()
    users = list({user for user, _ in holders})
    known: dict[uuid.UUID, Standing] = {}
    for start in range(0, len(users), 5000):  # well under any server's limit of bound parameters
        query = select(User.id, User.account_id, User.role, User.active, User.deleted_at).where(
            User.id.in_(users[start : start + 5000])
        )
        for user_id, user_account, role, active, deleted_at in (await db.execute(query)).all():
            known[user_id] = Standing(user_account, role, active, deleted_at)
    return {user for user, account in holders if user in known and not may_stream(known[user], account)}


# Core columns, not an ORM object, and built once: this runs on every request.
_CALLER = select(User.account_id, User.role, User.active, User.deleted_at, User.name, User.email).where(
    User.id == bindparam("user_id")
)


async def principal_from_claims(db: AsyncSession, claims: dict[str, Any]) -> Principal | None:
    """Turn verified token claims into a Principal, or None when the caller must be refused (401).

    The directory wins over the token: an inactive or deleted row refuses the user, and the
    row's role, name and email replace the token's.
    """
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        role = claims["role"]
        raw_account = claims.get("account_id")
        account_id = uuid.UUID(str(raw_account)) if raw_account and role != "service" else None
    except (KeyError, ValueError, TypeError, AttributeError):
        return None
    if not isinstance(role, str):
        return None
    if role == "service":
        account_id = None  # the main application acts for no account, whatever the token says
    elif role not in ROLES or account_id is None:
        return None
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    email = claims.get("email") if isinstance(claims.get("email"), str) else None

    if role != "service":
        async with before_transaction(db):  # a request that goes no further than reads sends no BEGIN
            row = (await db.execute(_CALLER, {"user_id": user_id})).one_or_none()
        if row is not None:
            if not may_act(Standing(row.account_id, row.role, row.active, row.deleted_at), account_id):
                return None
            role, name, email = row.role, row.name, row.email
    return Principal(
        user_id=user_id,
        account_id=account_id,
        role=role,
        name=name or email or f"user {str(user_id)[:8]}",
        email=email,
    )
