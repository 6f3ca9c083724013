"""One transaction per request or job: domain calls share it, and commit or roll back together."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from shared.auth.principal import Principal
from shared.bootstrap import Runtime
from shared.db.uow import in_transaction, read_only, unit_of_work
from shared.handoffs.schemas import HandoffCreate, Intent
from shared.handoffs.service import create_handoff
from shared.handoffs.tables import HandoffRow
from shared.sessions.schemas import SessionCreate
from shared.sessions.service import create_session
from shared.sessions.tables import AISession
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


async def test_a_read_only_session_keeps_what_it_read_and_commits_nothing(
    runtime: Runtime, tenants: TenantFactory
) -> None:
    junior = await _principal(tenants)
    async with unit_of_work(runtime.sessionmaker) as db:
        made = await create_session(db, junior, SessionCreate(title="Printer queue stuck"))
    async with read_only(runtime.sessionmaker) as db:
        row = await db.get(AISession, made.id)
        assert row is not None
        db.add(AISession(**{**_copy_of(row), "id": uuid.uuid4(), "title": "never stored"}))
        await db.flush()  # written inside the transaction, which the block ends without committing
    assert row.title == "Printer queue stuck"  # what was read stays readable after the block
    assert await _count(runtime, AISession, junior) == 1


async def test_work_in_a_session_opened_earlier_rolls_back_or_commits_block_by_block(
    runtime: Runtime, tenants: TenantFactory
) -> None:
    junior = await _principal(tenants)
    async with runtime.sessionmaker() as db:

        async def write_then_abandon() -> None:
            async with in_transaction(db):
                await create_session(db, junior, SessionCreate(title="Rolled back"))
                raise Abandon

        with pytest.raises(Abandon):
            await write_then_abandon()
        async with in_transaction(db):
            await create_session(db, junior, SessionCreate(title="Committed"))
        assert await db.scalar(select(func.count()).select_from(AISession).where(AISession.title == "Committed")) == 1
    assert await _count(runtime, AISession, junior) == 1


def _copy_of(row: AISession) -> dict[str, object]:
    return {column.key: getattr(row, column.key) for column in AISession.__table__.columns}
