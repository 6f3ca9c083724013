"""Directory sync: the main application keeps our copy of its users current."""

from __future__ import annotations

import uuid

from litestar import Controller, delete, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.auth import account_admin_guard
from shared.auth.principal import Principal
from shared.directory.schemas import UserOut, UserPut
from shared.directory.service import delete_user, put_user


class DirectoryController(Controller):
    path = "/api/v1/accounts/{account_id:uuid}/users"
    tags = ["directory"]
    guards = [account_admin_guard]

    @put("/{user_id:uuid}", operation_id="putUser", status_code=200)
    async def put_user(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
        data: JSONBody[UserPut],
    ) -> UserOut:
        return await put_user(db, principal, account_id, user_id, data)

    @delete("/{user_id:uuid}", operation_id="deleteUser", status_code=200)
    async def delete_user(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        user_id: FromPath[uuid.UUID],
    ) -> UserOut:
        return await delete_user(db, principal, account_id, user_id)
