"""Exactly one claimer wins, however many race: 25 seniors on each of 50 escalations (20 on SQLite).

SQLite runs one writer at a time (BEGIN IMMEDIATE), so its races are short queues; fewer rounds there
prove as much, and PostgreSQL, where claims really interleave, keeps all 50.
"""

from __future__ import annotations

import asyncio
import uuid

from shared.auth.principal import Principal
from shared.bootstrap import Runtime
from shared.handoffs import claims
from tests.support.tenants import TenantFactory

CLAIMERS = 25
HANDOFFS = {"postgresql": 50, "sqlite": 20}


async def test_one_winner_per_handoff_under_concurrent_claims(tenants: TenantFactory, backend: str) -> None:
    tenant = await tenants.create(junior="engineer")
    junior = tenant["junior"]
    seniors = [await tenants.add_user(tenant, f"senior{i}", "engineer") for i in range(CLAIMERS)]

    for round_no in range(HANDOFFS[backend]):
        handoff = await junior.escalate((await junior.new_session(f"race {round_no}"))["id"])
        path = f"/api/v1/handoffs/{handoff['id']}/claim"
        start = asyncio.Event()

        async def claim(senior=None, path=path, start=start):  # type: ignore[no-untyped-def]
            await start.wait()
            return senior, await senior.post(path)

        tasks = [asyncio.create_task(claim(s)) for s in seniors]
        await asyncio.sleep(0)  # yield: every task runs up to start.wait(), so all press at once
        start.set()
        answers = await asyncio.gather(*tasks)

        winners = [(s, r) for s, r in answers if r.status_code == 200]
        assert len(winners) == 1, [r.status_code for _, r in answers]
        winner, won = winners[0]
        for senior, response in answers:
            if senior is winner:
                continue
            assert response.status_code == 409, response.text
            body = response.json()
            assert body["code"] == "handoff_already_claimed"
            assert body["claimed_by"] == {"id": str(winner.id), "name": winner.name}
            assert body["claimed_at"] == won.json()["claimed_at"]
        final = (await junior.get(f"/api/v1/handoffs/{handoff['id']}")).json()
        assert final["claimed_by"]["id"] == str(winner.id)


async def test_a_claim_rolled_back_leaves_the_escalation_to_the_next_claimer(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    """A claim that wins in its transaction, which then rolls back, holds no one up: the next claimer wins."""
    tenant = await tenants.create(junior="engineer", first="engineer", second="engineer")
    handoff = await tenant["junior"].escalate((await tenant["junior"].new_session("rolled back"))["id"])
    handoff_id = uuid.UUID(handoff["id"])
    first = tenant["first"]
    principal = Principal(user_id=first.id, account_id=tenant.account_id, role="engineer", name=first.name)

    async with runtime.sessionmaker() as db:
        won = await claims.claim_handoff(db, principal, handoff_id)
        assert won.claimed_by is not None
        assert won.claimed_by.id == first.id
        assert handoff_id in claims._deciding  # others of a race here would wait for this transaction
        await db.rollback()
    assert handoff_id not in claims._deciding

    response = await tenant["second"].post(f"/api/v1/handoffs/{handoff_id}/claim")
    assert response.status_code == 200, response.text
    assert response.json()["claimed_by"]["id"] == str(tenant["second"].id)
