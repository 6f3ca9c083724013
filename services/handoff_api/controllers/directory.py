"""Directory sync: the main application keeps our copy of its users current; members list their account's users."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.auth import account_admin_guard
from shared.auth.principal import Principal
from shared.directory.schemas import MemberList, UserOut, UserPut
from shared.directory.service import delete_user, list_members, put_user


class DirectoryController(Controller):
    path = "/api/v1/accounts/{account_id:uuid}/users"
    tags = ["directory"]

    @get("", operation_id="listUsers")
    async def list_users(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], account_id: FromPath[uuid.UUID]
    ) -> MemberList:
        """Any member of the account (viewers too) or the main application; emails only for owners, admins, service."""
        return await list_members(db, principal, account_id)

    @put("/{user_id:uuid}", operation_id="putUser", status_code=200, guards=[account_admin_guard])
    async def put_user(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserPut],
    ) -> UserOut:
        return await put_user(db, principal, account_id, user_id, data)

    @delete("/{user_id:uuid}", operation_id="deleteUser", status_code=200, guards=[account_admin_guard])
    async def delete_user(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
    ) -> UserOut:
        return await delete_user(db, principal, account_id, user_id)
