"""An account's escalation policy and its team figures."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.auth import account_admin_guard
from shared.auth.principal import Principal
from shared.escalations.schemas import HandoffStats
from shared.escalations.stats import handoff_stats
from shared.policy.schemas import EscalationPolicy
from shared.policy.service import get_escalation_policy, put_escalation_policy


class EscalationPolicyController(Controller):
    path = "/api/v1/accounts/{account_id:uuid}"
    tags = ["escalations"]
    guards = [account_admin_guard]

    @get("/escalation-policy", operation_id="getEscalationPolicy")
    async def get_policy(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], account_id: FromPath[uuid.UUID]
    ) -> EscalationPolicy:
        return await get_escalation_policy(db, principal, account_id)

    @put("/escalation-policy", operation_id="putEscalationPolicy", status_code=200)
    async def put_policy(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[EscalationPolicy],
    ) -> EscalationPolicy:
        return await put_escalation_policy(db, principal, account_id, data)

    @get("/handoff-stats", operation_id="getHandoffStats")
    async def stats(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        since: Annotated[str | None, Parameter(max_length=64)] = None,
        until: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> HandoffStats:
        return await handoff_stats(db, principal, account_id, since=since, until=until)
