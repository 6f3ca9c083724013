"""An account's PSA connection: write-only credentials."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.auth import account_admin_guard
from services.handoff_api.dependencies import provide_db
from shared.auth.principal import Principal
from shared.integrations.schemas import PSAConnectionOut, PSAConnectionPut
from shared.integrations.service import get_psa_connection, put_psa_connection


class PSAController(Controller):
    path = "/api/v1/accounts/{account_id:uuid}/psa"
    tags = ["integrations"]
    guards = [account_admin_guard]
    dependencies = {"db": Provide(provide_db)}

    @put("/", operation_id="putPSAConnection", status_code=200)
    async def put_connection(
        self,
        request: Request[Principal, Any, Any],
        state: State,
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[PSAConnectionPut],
    ) -> PSAConnectionOut:
        return await put_psa_connection(db, state.secret_box, request.user, account_id, data)

    @get("/", operation_id="getPSAConnection")
    async def get_connection(
        self, request: Request[Principal, Any, Any], db: NamedDependency[AsyncSession], account_id: FromPath[uuid.UUID]
    ) -> PSAConnectionOut:
        return await get_psa_connection(db, request.user, account_id)
