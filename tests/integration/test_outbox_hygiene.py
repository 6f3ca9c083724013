"""Outbox hygiene: a poisoned row is set aside with its error and blocks no one; old rows are pruned."""

from __future__ import annotations

import time
from datetime import timedelta

import httpx
from sqlalchemy import select

from shared.bootstrap import Runtime
from shared.clock import utcnow
from shared.db.uow import unit_of_work
from shared.outbox.relay import DEAD_LETTER_AFTER
from shared.outbox.table import OutboxRow
from tests.support.events import wait_for_events
from tests.support.tenants import TenantFactory
from tests.support.waiting import eventually


def dead_letters_counted(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("handoff_outbox_dead_letters_total{")
    )


async def test_a_poisoned_row_is_set_aside_and_every_account_flows(
    tenants: TenantFactory, runtime: Runtime, client: httpx.AsyncClient
) -> None:
    poisoned, other = await tenants.create(), await tenants.create()
    before = dead_letters_counted((await client.get("/metrics")).text)
    async with unit_of_work(runtime.sessionmaker) as db:
        bad = OutboxRow(account_id=poisoned.account_id, kind="job", topic="no_such_job", payload={"x": 1})
        db.add(bad)
    runtime.relay.wake()

    started = time.perf_counter()
    other_handoff = await other["junior"].escalate((await other["junior"].new_session())["id"])
    behind = await poisoned["junior"].escalate((await poisoned["junior"].new_session())["id"])
    other_events = await wait_for_events(runtime, str(other.account_id), 2, timeout=10)
    other_ms = (time.perf_counter() - started) * 1000
    assert [(e["type"], e["handoff_id"]) for e in other_events] == [
        ("handoff_created", other_handoff["id"]),
        ("handoff_paged", other_handoff["id"]),
    ]

    # The rows behind the poisoned one, in the same account, go out once that one is set aside.
    own_events = await wait_for_events(runtime, str(poisoned.account_id), 2, timeout=30)
    own_ms = (time.perf_counter() - started) * 1000
    assert [(e["type"], e["handoff_id"]) for e in own_events] == [
        ("handoff_created", behind["id"]),
        ("handoff_paged", behind["id"]),
    ]

    # The event goes out inside the batch that sets the bad row aside; the batch commits a moment later.

    async def set_aside() -> OutboxRow | None:
        async with runtime.sessionmaker() as db:
            row = (await db.execute(select(OutboxRow).where(OutboxRow.id == bad.id))).scalar_one()
        return row if row.dead_at is not None else None

    row = await eventually(set_aside, 10, "the poisoned row to be set aside")
    assert row.published_at is None
    assert row.dead_at is not None
    assert row.attempts == DEAD_LETTER_AFTER
    assert "no_such_job" in (row.last_error or "")
    after = dead_letters_counted((await client.get("/metrics")).text)
    assert after == before + 1
    print(
        f"\n[{runtime.engine.dialect.name}] poisoned row set aside after {row.attempts} attempts; "
        f"other account's event in {other_ms:.0f} ms, the same account's next event in {own_ms:.0f} ms"
    )


async def test_published_rows_older_than_a_week_are_pruned(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create()
    now = utcnow()
    async with unit_of_work(runtime.sessionmaker) as db:
        ages = {"old": timedelta(days=8), "recent": timedelta(days=6)}
        rows = {
            name: OutboxRow(
                account_id=tenant.account_id, kind="event", topic="handoff_created", payload={}, published_at=now - age
            )
            for name, age in ages.items()
        }
        db.add_all(rows.values())
    assert await runtime.relay.prune() >= 1
    async with runtime.sessionmaker() as db:
        kept = set(
            (await db.execute(select(OutboxRow.id).where(OutboxRow.account_id == tenant.account_id))).scalars().all()
        )
    assert kept == {rows["recent"].id}
