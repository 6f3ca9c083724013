"""Escalation policy, durable reminders and stale-claim nudges, the timeline and assessment feedback.

Time is data: instead of waiting out a policy's seconds, a test moves a timer's `due_at` to now, which
is what the passing of time does to the row; the real timer loop then fires it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from services.assessor.providers.heuristic import HeuristicProvider
from services.assessor.service import AssessHandoff
from shared.bootstrap import Runtime
from shared.clock import utcnow
from shared.deliveries.tables import Delivery
from shared.escalations.runner import TimerRunner
from shared.policy.tables import HandoffTimer
from tests.support.db import outbox_rows
from tests.support.tenants import Actor, Tenant, TenantFactory

FAST = {"unclaimed_reminder_s": {"low": 5, "normal": 5, "high": 5}, "max_reminders": 2, "stale_claim_s": 5}
# Who is paged, as every answer carries it until steps or the pick-up-link switch are saved.
DEFAULT_PAGING = {"steps": [{"after_s": 0, "notify": ["all_seniors"]}], "email_pick_up_links": True}


async def set_policy(tenant: Tenant, policy: dict[str, Any]) -> None:
    response = await tenant.service.request(
        "PUT", f"/api/v1/accounts/{tenant.account_id}/escalation-policy", json=policy
    )
    assert response.status_code == 200, response.text


async def time_passes(runtime: Runtime, handoff_id: str) -> None:
    """Every pending timer of the handoff is due now."""
    async with runtime.sessionmaker() as db:
        await db.execute(
            update(HandoffTimer)
            .where(HandoffTimer.handoff_id == uuid.UUID(handoff_id), HandoffTimer.fired_at.is_(None))
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()


async def email_rows(runtime: Runtime, handoff_id: str) -> list[tuple[int, str]]:
    async with runtime.sessionmaker() as db:
        query = select(Delivery.round, Delivery.recipient).where(
            Delivery.handoff_id == uuid.UUID(handoff_id), Delivery.channel == "email"
        )
        return sorted((r, who) for r, who in (await db.execute(query)).all())


async def events(runtime: Runtime, tenant: Tenant, topic: str) -> list[dict[str, Any]]:
    return [row["payload"] for row in await outbox_rows(runtime, tenant.account_id) if row["topic"] == topic]


async def escalation(tenant: Tenant, title: str = "DNS resolution fails for the intranet") -> dict[str, Any]:
    junior = tenant["junior"]
    return await junior.escalate((await junior.new_session(title))["id"])


async def test_the_policy_has_defaults_until_a_put_and_refuses_out_of_bounds(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", lead="admin", owner="owner")
    path = f"/api/v1/accounts/{tenant.account_id}/escalation-policy"
    got = await tenant["lead"].get(path)
    assert got.status_code == 200
    assert got.json() == {
        "unclaimed_reminder_s": {"low": 3600, "normal": 900, "high": 300},
        "max_reminders": 3,
        "stale_claim_s": 1800,
        **DEFAULT_PAGING,
    }
    assert (await tenant["owner"].request("PUT", path, json=FAST)).json() == {**FAST, **DEFAULT_PAGING}
    assert (await tenant["lead"].get(path)).json() == {**FAST, **DEFAULT_PAGING}
    off = {"unclaimed_reminder_s": {"low": 0, "normal": 0, "high": 0}, "max_reminders": 0, "stale_claim_s": 0}
    assert (await tenant.service.request("PUT", path, json=off)).status_code == 200

    for bad in (
        {**FAST, "unclaimed_reminder_s": {"low": 4, "normal": 5, "high": 5}},
        {**FAST, "unclaimed_reminder_s": {"low": 5, "normal": 86401, "high": 5}},
        {**FAST, "max_reminders": 11},
        {**FAST, "stale_claim_s": 604801},
        {**FAST, "stale_claim_s": -1},
    ):
        response = await tenant["lead"].request("PUT", path, json=bad)
        assert response.status_code == 400, bad
        assert response.json()["code"] == "validation_error"
    assert (await tenant["lead"].get(path)).json() == {**off, **DEFAULT_PAGING}

    assert (await tenant["junior"].get(path)).status_code == 403
    other = await tenants.create(lead="admin")
    assert (await other["lead"].get(path)).status_code == 404
    assert (await other["lead"].request("PUT", path, json=FAST)).status_code == 404


async def test_two_reminders_fire_then_none_each_once_however_many_loops_run(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", alex="admin")
    await set_policy(tenant, FAST)
    handoff = await escalation(tenant)
    loops = [TimerRunner(runtime.sessionmaker) for _ in range(3)]

    for round in (1, 2):
        await time_passes(runtime, handoff["id"])
        fired = await asyncio.gather(*(loop.fire_due() for loop in loops))
        ours = [t for batch in fired for t in batch if str(t.handoff_id) == handoff["id"]]
        assert [(t.kind, t.round) for t in ours] == [("reminder", round)]
    await time_passes(runtime, handoff["id"])
    fired = await asyncio.gather(*(loop.fire_due() for loop in loops))
    assert not [t for batch in fired for t in batch if str(t.handoff_id) == handoff["id"]]

    got = (await tenant["sam"].get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert got["reminders_sent"] == 2
    reminder_rounds = sorted(e["round"] for e in await events(runtime, tenant, "handoff_reminder"))
    assert reminder_rounds == [1, 2]
    rows = await email_rows(runtime, handoff["id"])
    seniors = sorted({who for _, who in rows})
    assert len(seniors) == 2  # Sam and Alex, never the escalator
    assert [r for r, _ in rows if r > 0] == [1, 1, 2, 2]


async def test_a_claim_cancels_pending_reminders_and_a_quiet_claimer_is_nudged_once(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", alex="engineer")
    await set_policy(tenant, FAST)
    handoff = await escalation(tenant)
    sam = tenant["sam"]
    assert (await sam.post(f"/api/v1/handoffs/{handoff['id']}/claim")).status_code == 200

    await time_passes(runtime, handoff["id"])
    loop = TimerRunner(runtime.sessionmaker)
    fired = [t for t in await loop.fire_due() if str(t.handoff_id) == handoff["id"]]
    assert [(t.kind, t.round) for t in fired] == [("claim_stale", 0)]
    await time_passes(runtime, handoff["id"])
    assert not [t for t in await loop.fire_due() if str(t.handoff_id) == handoff["id"]]

    assert await events(runtime, tenant, "handoff_reminder") == []
    stale = await events(runtime, tenant, "handoff_claim_stale")
    assert [e["handoff_id"] for e in stale] == [handoff["id"]]
    later = [(r, who) for r, who in await email_rows(runtime, handoff["id"]) if r > 0]
    assert len(later) == 1  # one email, to the claimer only
    assert later[0][1].startswith("sam-")
    assert (await sam.get(f"/api/v1/handoffs/{handoff['id']}")).json()["reminders_sent"] == 0


async def test_a_claimer_who_keeps_writing_is_not_nudged(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    await set_policy(tenant, FAST)
    handoff = await escalation(tenant)
    sam = tenant["sam"]
    assert (await sam.post(f"/api/v1/handoffs/{handoff['id']}/claim")).status_code == 200
    message = {"role": "engineer", "content": "Flushed the resolver cache, checking the forwarders now"}
    assert (await sam.post(f"/api/v1/ai-sessions/{handoff['session_id']}/messages", json=message)).status_code == 201

    await time_passes(runtime, handoff["id"])
    fired = [t for t in await TimerRunner(runtime.sessionmaker).fire_due() if str(t.handoff_id) == handoff["id"]]
    assert fired == []  # the quiet spell started again at the message
    async with runtime.sessionmaker() as db:
        timer = (
            await db.execute(
                select(HandoffTimer).where(
                    HandoffTimer.handoff_id == uuid.UUID(handoff["id"]), HandoffTimer.kind == "claim_stale"
                )
            )
        ).scalar_one()
    assert timer.fired_at is None
    assert timer.due_at > utcnow()
    assert await events(runtime, tenant, "handoff_claim_stale") == []


async def test_withdraw_cancels_reminders(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    await set_policy(tenant, FAST)
    handoff = await escalation(tenant)
    assert (await tenant["junior"].post(f"/api/v1/handoffs/{handoff['id']}/withdraw")).status_code == 200
    await time_passes(runtime, handoff["id"])
    assert not [t for t in await TimerRunner(runtime.sessionmaker).fire_due() if str(t.handoff_id) == handoff["id"]]
    assert await events(runtime, tenant, "handoff_reminder") == []


async def test_a_new_policy_applies_to_open_escalations_from_their_next_timer_on(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    await set_policy(tenant, FAST)
    handoff = await escalation(tenant)
    await set_policy(tenant, {**FAST, "unclaimed_reminder_s": {"low": 5, "normal": 600, "high": 5}})
    await time_passes(runtime, handoff["id"])
    await TimerRunner(runtime.sessionmaker).fire_due()
    async with runtime.sessionmaker() as db:
        pending = (
            await db.execute(
                select(HandoffTimer).where(
                    HandoffTimer.handoff_id == uuid.UUID(handoff["id"]), HandoffTimer.fired_at.is_(None)
                )
            )
        ).scalar_one()
    assert pending.round == 2
    assert timedelta(seconds=590) < pending.due_at - utcnow() <= timedelta(seconds=600)

    await set_policy(tenant, {**FAST, "max_reminders": 1})
    await time_passes(runtime, handoff["id"])
    assert not [t for t in await TimerRunner(runtime.sessionmaker).fire_due() if str(t.handoff_id) == handoff["id"]]


async def test_the_timeline_is_in_order_and_a_park_stays_private(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", viewer="viewer")
    await set_policy(tenant, FAST)
    handoff = await escalation(tenant)
    await time_passes(runtime, handoff["id"])
    await TimerRunner(runtime.sessionmaker).fire_due()
    sam = tenant["sam"]
    assert (await sam.post(f"/api/v1/handoffs/{handoff['id']}/claim")).status_code == 200
    feedback = {"helpful": False, "resolved_by_step": None, "comment": "the cause was a stale forwarder"}
    assert (
        await sam.request("PUT", f"/api/v1/handoffs/{handoff['id']}/assessment-feedback", json=feedback)
    ).status_code == 200

    timeline = (await tenant["viewer"].get(f"/api/v1/handoffs/{handoff['id']}/timeline")).json()
    types = [entry["type"] for entry in timeline]
    assert types[0] == "created"
    assert timeline[0]["actor"]["id"] == str(tenant["junior"].id)
    # Step 0 pages every senior (round 0's rows); the reminder fires, then its emails are queued: round 1's rows
    # (no worker sends them here).
    assert types == ["created", "paged", "notified", "reminder", "notified", "claimed", "feedback"]
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    paged = next(e for e in timeline if e["type"] == "paged")["detail"]
    assert paged["step"] == 0
    assert {(u["user"]["id"], u["reason"]) for u in paged["users"]} == {(str(tenant["sam"].id), "all_seniors")}
    first, notified = [e for e in timeline if e["type"] == "notified"]
    assert first["detail"] == {"channel": "email", "round": 0, "sent": 0, "failed": 0}
    assert notified["detail"] == {"channel": "email", "round": 1, "sent": 0, "failed": 0}  # queued, not sent yet
    assert next(e for e in timeline if e["type"] == "reminder")["detail"] == {"round": 1}
    assert next(e for e in timeline if e["type"] == "claimed")["actor"]["name"] == sam.name

    junior = tenant["junior"]
    park_session = await junior.new_session("Parked for tomorrow")
    park = await junior.post(
        f"/api/v1/ai-sessions/{park_session['id']}/handoff", json={"intent": "park", "note": "mine"}
    )
    park_id = park.json()["id"]
    assert (await junior.get(f"/api/v1/handoffs/{park_id}/timeline")).status_code == 200
    assert (await sam.get(f"/api/v1/handoffs/{park_id}/timeline")).status_code == 404
    other = await tenants.create(lead="admin")
    assert (await other["lead"].get(f"/api/v1/handoffs/{handoff['id']}/timeline")).status_code == 404


async def assessed(runtime: Runtime, handoff: dict[str, Any], reader: Actor) -> dict[str, Any]:
    await AssessHandoff(runtime.sessionmaker, HeuristicProvider())({"handoff_id": handoff["id"]})
    got = (await reader.get(f"/api/v1/handoffs/{handoff['id']}")).json()
    assert got["assessment_status"] == "ready"
    return dict(got)


async def test_feedback_is_the_claimers_one_and_moves_the_step_that_fixed_it_up_next_time(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", alex="engineer", viewer="viewer")
    sam, alex = tenant["sam"], tenant["alex"]
    title = "DNS resolution fails for the intranet site from the office"
    before = await assessed(runtime, await escalation(tenant, title), sam)
    steps = before["ai_assessment_data"]["suggested_steps"]
    fixer = len(steps) - 1  # the step ranked last is the one that fixed it
    path = f"/api/v1/handoffs/{before['id']}/assessment-feedback"

    # Only the claimer rates the assessment: it steers the next ones.
    assert (await sam.request("PUT", path, json={"helpful": True})).json()["code"] == "forbidden"
    assert (await sam.post(f"/api/v1/handoffs/{before['id']}/claim")).status_code == 200
    first = await sam.request("PUT", path, json={"helpful": False, "resolved_by_step": None, "comment": "meh"})
    assert first.status_code == 200
    again = await sam.request("PUT", path, json={"helpful": True, "resolved_by_step": fixer, "comment": "this one"})
    assert again.status_code == 200
    mine = again.json()["assessment_feedback"]
    assert [(f["user"]["id"], f["helpful"], f["resolved_by_step"]) for f in mine] == [(str(sam.id), True, fixer)]
    refused = await alex.request("PUT", path, json={"helpful": False, "resolved_by_step": 0})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    shown = (await tenant["viewer"].get(f"/api/v1/handoffs/{before['id']}")).json()["assessment_feedback"]
    assert [f["user"]["name"] for f in shown] == [sam.name]

    too_far = await sam.request("PUT", path, json={"helpful": True, "resolved_by_step": len(steps)})
    assert too_far.status_code == 400
    assert too_far.json()["code"] == "validation_error"
    assert (await tenant["viewer"].request("PUT", path, json={"helpful": True})).status_code == 403
    other = await tenants.create(lead="admin")
    assert (await other["lead"].request("PUT", path, json={"helpful": True})).status_code == 404

    after = await assessed(runtime, await escalation(tenant, title), sam)
    new_steps = after["ai_assessment_data"]["suggested_steps"]
    assert steps[fixer] in new_steps
    assert new_steps.index(steps[fixer]) < fixer  # ranked higher than before the feedback
    # Another account's escalations of the same problem are not moved by this account's feedback.
    stranger = await tenants.create(junior="engineer", sam="engineer")
    theirs = await assessed(runtime, await escalation(stranger, title), stranger["sam"])
    assert theirs["ai_assessment_data"]["suggested_steps"] == steps
