"""One transaction per request or job: domain calls share it, and commit or roll back together."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shared.auth.principal import Principal
from shared.bootstrap import Runtime
from shared.db.models import AISession, HandoffRow
from shared.db.uow import unit_of_work
from shared.handoffs.schemas import HandoffCreate, Intent
from shared.handoffs.service import create_handoff
from shared.sessions.schemas import SessionCreate
from shared.sessions.service import create_session
from tests.support.db import outbox_rows
from tests.support.events import wait_for_events
from tests.support.tenants import TenantFactory


class Abandon(Exception):
    """The caller changes its mind after both domain calls succeeded."""


async def _principal(tenants: TenantFactory) -> Principal:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    junior = tenant["junior"]
    return Principal(user_id=junior.id, account_id=tenant.account_id, role="engineer", name=junior.name)


async def _count(runtime: Runtime, model: type[AISession] | type[HandoffRow], principal: Principal) -> int:
    async with runtime.sessionmaker() as db:
        query = select(func.count()).select_from(model).where(model.account_id == principal.account_id)
        return int((await db.execute(query)).scalar_one())


async def test_two_domain_calls_roll_back_together(runtime: Runtime, tenants: TenantFactory) -> None:
    junior = await _principal(tenants)

    async def escalate_then_abandon() -> None:
        async with unit_of_work(runtime.sessionmaker) as db:
            session = await create_session(db, junior, SessionCreate(title="Backup job fails nightly"))
            handoff = await create_handoff(db, junior, session.id, HandoffCreate(intent=Intent.ESCALATE))
            assert handoff.session_id == session.id  # both worked, inside the one transaction
            raise Abandon

    with pytest.raises(Abandon):
        await escalate_then_abandon()
    assert await _count(runtime, AISession, junior) == 0
    assert await _count(runtime, HandoffRow, junior) == 0
    assert await outbox_rows(runtime, junior.account_id or "") == []  # so nothing is ever announced


async def test_two_domain_calls_commit_together_and_wake_the_relay(runtime: Runtime, tenants: TenantFactory) -> None:
    junior = await _principal(tenants)
    async with unit_of_work(runtime.sessionmaker) as db:
        session = await create_session(db, junior, SessionCreate(title="DNS fails for one site"))
        handoff = await create_handoff(db, junior, session.id, HandoffCreate(intent=Intent.ESCALATE))
    assert await _count(runtime, AISession, junior) == 1
    assert await _count(runtime, HandoffRow, junior) == 1
    events = await wait_for_events(runtime, str(junior.account_id), 1)
    assert [(e["type"], e["handoff_id"]) for e in events] == [("handoff_created", str(handoff.id))]
