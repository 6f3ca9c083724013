"""An account's PSA connection (write-only credentials) and its own outbound allow-list."""

from __future__ import annotations

import uuid

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.auth import account_admin_guard
from shared.auth.principal import Principal
from shared.crypto import SecretBox
from shared.integrations.allow_list import get_outbound_allow, put_outbound_allow
from shared.integrations.schemas import OutboundAllowList, PSAConnectionOut, PSAConnectionPut
from shared.integrations.service import get_psa_connection, put_psa_connection
from shared.outbound.guard import OutboundPolicy


class PSAController(Controller):
    path = "/api/v1/accounts/{account_id:uuid}/psa"
    tags = ["integrations"]
    guards = [account_admin_guard]

    @put("/", operation_id="putPSAConnection", status_code=200)
    async def put_connection(
        self,
        principal: NamedDependency[Principal],
        secret_box: NamedDependency[SecretBox],
        outbound_policy: NamedDependency[OutboundPolicy],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[PSAConnectionPut],
    ) -> PSAConnectionOut:
        return await put_psa_connection(db, secret_box, outbound_policy, principal, account_id, data)

    @get("/", operation_id="getPSAConnection")
    async def get_connection(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], account_id: FromPath[uuid.UUID]
    ) -> PSAConnectionOut:
        return await get_psa_connection(db, principal, account_id)


class OutboundAllowController(Controller):
    path = "/api/v1/accounts/{account_id:uuid}/outbound-allow"
    tags = ["integrations"]
    guards = [account_admin_guard]  # owners and admins may read it; the domain lets only `service` change it

    @put("/", operation_id="putOutboundAllow", status_code=200)
    async def put_allow_list(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[OutboundAllowList],
    ) -> OutboundAllowList:
        return await put_outbound_allow(db, principal, account_id, data)

    @get("/", operation_id="getOutboundAllow")
    async def get_allow_list(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], account_id: FromPath[uuid.UUID]
    ) -> OutboundAllowList:
        return await get_outbound_allow(db, principal, account_id)
