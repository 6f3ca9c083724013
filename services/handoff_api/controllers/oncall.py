"""An account's on-call rotations and overrides, and who they put on call now and over the coming days."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.oncall.schemas import OnCall, OnCallNow, OnCallShifts
from shared.oncall.service import get_on_call, on_call_now, on_call_shifts, put_on_call

Time = Annotated[str | None, Parameter(max_length=64, description="RFC 3339 time with an offset")]


class OnCallController(Controller):
    path = "/api/v1/accounts/{account_id:uuid}/on-call"
    tags = ["on-call"]

    @get("", operation_id="getOnCall")
    async def get_document(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], account_id: FromPath[uuid.UUID]
    ) -> OnCall:
        return await get_on_call(db, principal, account_id)

    @put("", operation_id="putOnCall", status_code=200)
    async def put_document(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[OnCall],
    ) -> OnCall:
        return await put_on_call(db, principal, account_id, data)

    @get("/now", operation_id="getOnCallNow")
    async def now(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        at: Time = None,
    ) -> OnCallNow:
        return await on_call_now(db, principal, account_id, at)

    @get("/shifts", operation_id="getOnCallShifts")
    async def shifts(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        since: Time = None,
        until: Time = None,
    ) -> OnCallShifts:
        return await on_call_shifts(db, principal, account_id, since, until)
