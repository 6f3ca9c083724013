"""Escalation steps: who each step pages, when later steps fire, and what a team sees of it.

Time is data: instead of waiting out a step's seconds, a test moves the handoff's timers' `due_at` to
now, which is what the passing of time does to the rows; the real timer loop then fires them.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from shared.bootstrap import Runtime
from shared.clock import utcnow
from shared.deliveries.tables import Delivery
from shared.escalations.runner import TimerRunner
from shared.policy.tables import HandoffTimer
from tests.support.db import outbox_rows
from tests.support.email_jobs import deliveries, email_job
from tests.support.smtp import SMTPServer
from tests.support.tenants import Actor, Tenant, TenantFactory

# Everyone starts their turn long ago: the rotation has someone on call whenever a test runs.
START = "2026-01-05T00:00"


def policy_path(tenant: Tenant) -> str:
    return f"/api/v1/accounts/{tenant.account_id}/escalation-policy"


async def put_policy(tenant: Tenant, body: dict[str, Any]) -> Any:
    response = await tenant["owner"].request("PUT", policy_path(tenant), json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def put_on_call(tenant: Tenant, *rotations: tuple[str, list[Actor]], overrides: Any = ()) -> None:
    document = {
        "time_zone": "UTC",
        "rotations": [
            {"name": name, "members": [str(m.id) for m in members], "start": START, "turn_days": 1}
            for name, members in rotations
        ],
        "overrides": list(overrides),
    }
    response = await tenant["owner"].request("PUT", f"/api/v1/accounts/{tenant.account_id}/on-call", json=document)
    assert response.status_code == 200, response.text


async def on_call_now(tenant: Tenant, rotation: str) -> str:
    response = await tenant["owner"].get(f"/api/v1/accounts/{tenant.account_id}/on-call/now")
    [answer] = [r for r in response.json()["rotations"] if r["name"] == rotation]
    return str(answer["user"]["id"])


def who(tenant: Tenant, user_id: str) -> str:
    return next(key for key, actor in tenant.users.items() if str(actor.id) == user_id)


async def time_passes(runtime: Runtime, handoff_id: str) -> None:
    """Every pending timer of the handoff is due now."""
    async with runtime.sessionmaker() as db:
        await db.execute(
            update(HandoffTimer)
            .where(HandoffTimer.handoff_id == uuid.UUID(handoff_id), HandoffTimer.fired_at.is_(None))
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()


async def fire(runtime: Runtime, handoff_id: str) -> list[tuple[str, int]]:
    fired = await TimerRunner(runtime.sessionmaker).fire_due()
    return [(t.kind, t.round) for t in fired if str(t.handoff_id) == handoff_id]


async def emails(runtime: Runtime, handoff_id: str) -> list[tuple[int, int | None, uuid.UUID | None]]:
    """(round, step, user) of every email row of the handoff."""
    async with runtime.sessionmaker() as db:
        query = select(Delivery.round, Delivery.step, Delivery.user_id).where(
            Delivery.handoff_id == uuid.UUID(handoff_id), Delivery.channel == "email"
        )
        return sorted((r, s, u) for r, s, u in (await db.execute(query)).all())


async def paged_events(runtime: Runtime, tenant: Tenant) -> list[dict[str, Any]]:
    return [r["payload"] for r in await outbox_rows(runtime, tenant.account_id) if r["topic"] == "handoff_paged"]


async def handoff(tenant: Tenant, handoff_id: str) -> Any:
    return (await tenant["owner"].get(f"/api/v1/handoffs/{handoff_id}")).json()


async def team(tenants: TenantFactory) -> Tenant:
    return await tenants.create(
        junior="engineer", owner="owner", abe="engineer", bea="engineer", cal="admin", val="viewer"
    )


# --- the policy -----------------------------------------------------------------------------------------


async def test_steps_default_to_every_senior_at_once_and_are_kept_by_a_put_without_them(
    tenants: TenantFactory,
) -> None:
    tenant = await team(tenants)
    await put_on_call(tenant, ("primary", [tenant["abe"], tenant["bea"]]))
    steps = [
        {"after_s": 0, "notify": ["rotation:primary"]},
        {"after_s": 600, "notify": ["rotation:primary", f"user:{tenant['cal'].id}"]},
        {"after_s": 1800, "notify": ["all_seniors"]},
    ]
    saved = await put_policy(tenant, {"steps": steps, "email_pick_up_links": False})
    assert saved["steps"] == steps
    assert saved["email_pick_up_links"] is False
    kept = await put_policy(tenant, {"max_reminders": 1})
    assert kept["steps"] == steps
    assert kept["email_pick_up_links"] is False
    assert kept["max_reminders"] == 1


async def test_bad_steps_are_refused_naming_the_field(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    await put_on_call(tenant, ("primary", [tenant["abe"]]))
    first = {"after_s": 0, "notify": ["rotation:primary"]}
    for steps, field in (
        ([{"after_s": 5, "notify": ["all_seniors"]}], "steps[0].after_s"),
        ([first, {"after_s": 4, "notify": ["all_seniors"]}], "steps[1].after_s"),
        ([first, {"after_s": 86401, "notify": ["all_seniors"]}], "steps[1].after_s"),
        (
            [first, {"after_s": 60, "notify": ["all_seniors"]}, {"after_s": 60, "notify": ["all_seniors"]}],
            "steps[2].after_s",
        ),
        ([{"after_s": 0, "notify": ["rotation:nightly"]}], "steps[0].notify[0]"),
        ([{"after_s": 0, "notify": ["all_seniors", f"user:{tenant['val'].id}"]}], "steps[0].notify[1]"),
        ([{"after_s": 0, "notify": [f"user:{uuid.uuid4()}"]}], "steps[0].notify[0]"),
        ([{"after_s": 0, "notify": ["user:not-an-id"]}], "steps[0].notify[0]"),
        ([{"after_s": 0, "notify": ["everyone"]}], "steps[0].notify[0]"),
    ):
        response = await tenant["owner"].request("PUT", policy_path(tenant), json={"steps": steps})
        assert response.status_code == 400, (steps, response.text)
        body = response.json()
        assert body["code"] == "validation_error"
        assert body["field"] == field, body
    for steps in ([], [first] * 11, [{"after_s": 0, "notify": []}], [{"after_s": 0, "notify": ["all_seniors"] * 21}]):
        response = await tenant["owner"].request("PUT", policy_path(tenant), json={"steps": steps})
        assert response.status_code == 400, steps
        assert response.json()["code"] == "validation_error"
    assert (await tenant["owner"].get(policy_path(tenant))).json()["steps"] == [
        {"after_s": 0, "notify": ["all_seniors"]}
    ]


# --- steps at run time ----------------------------------------------------------------------------------

ROTA_THEN_ALL = [{"after_s": 0, "notify": ["rotation:primary"]}, {"after_s": 5, "notify": ["all_seniors"]}]


async def escalate(tenant: Tenant) -> Any:
    junior = tenant["junior"]
    return await junior.escalate((await junior.new_session("Exchange queue stuck"))["id"])


def ids(tenant: Tenant, *names: str) -> set[uuid.UUID]:
    return {tenant[name].id for name in names}


async def test_without_saved_steps_every_senior_is_paged_at_once_and_emailed_once(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await team(tenants)
    policy = (await tenant["cal"].get(policy_path(tenant))).json()
    assert (policy["steps"], policy["email_pick_up_links"]) == ([{"after_s": 0, "notify": ["all_seniors"]}], True)

    created = await escalate(tenant)
    seniors = ids(tenant, "abe", "bea", "cal", "owner")  # never the escalator, never the viewer
    assert {(uuid.UUID(p["user"]["id"]), p["step"], p["reason"]) for p in created["paged"]} == {
        (user, 0, "all_seniors") for user in seniors
    }
    assert len(created["paged"]) == len(seniors)
    assert await emails(runtime, created["id"]) == sorted((0, 0, user) for user in seniors)
    [event] = await paged_events(runtime, tenant)
    assert (event["handoff_id"], event["step"]) == (created["id"], 0)
    assert {uuid.UUID(p["user"]["id"]) for p in event["paged"]} == seniors
    timeline = (await tenant["val"].get(f"/api/v1/handoffs/{created['id']}/timeline")).json()
    [paged] = [e for e in timeline if e["type"] == "paged"]
    assert paged["detail"]["step"] == 0
    assert not [e for e in timeline if e["type"] == "step_skipped"]

    with SMTPServer() as smtp:
        job = email_job(runtime, smtp.port, timeout_s=2)
        assert await job({"handoff_id": created["id"]}) == f"{len(seniors)} emails handled"
        assert await job({"handoff_id": created["id"]}) == "0 emails handled"
        sent_to = sorted(mail.to for mail in smtp.catcher.received)
    rows = await deliveries(tenant["abe"], created["id"])
    assert sent_to == sorted(r["recipient"] for r in rows)  # each paged senior, once
    assert {(r["channel"], r["round"], r["step"], r["status"]) for r in rows} == {("email", 0, 0, "sent")}


async def test_step_zero_pages_only_the_senior_on_call_and_a_later_step_the_rest(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await team(tenants)
    await put_on_call(tenant, ("primary", [tenant["abe"], tenant["bea"]]))
    await put_policy(tenant, {"steps": ROTA_THEN_ALL})
    on_call = await on_call_now(tenant, "primary")
    other = "bea" if who(tenant, on_call) == "abe" else "abe"

    created = await escalate(tenant)
    [page] = created["paged"]
    assert page["user"] == {"id": on_call, "name": tenant[who(tenant, on_call)].name}
    assert (page["step"], page["reason"]) == (0, "rotation:primary")
    assert await emails(runtime, created["id"]) == [(0, 0, uuid.UUID(on_call))]
    [event] = await paged_events(runtime, tenant)
    assert event["handoff_id"] == created["id"]
    assert event["step"] == 0
    assert event["paged"] == [{"user": page["user"], "reason": "rotation:primary"}]

    assert await fire(runtime, created["id"]) == []  # not yet due
    await time_passes(runtime, created["id"])
    assert ("step", 1) in await fire(runtime, created["id"])
    rows = await emails(runtime, created["id"])
    assert {user for _, step, user in rows if step == 1} == ids(
        tenant, other, "owner", "cal"
    )  # no viewer, no escalator
    assert [user for r, _, user in rows if r == 0].count(uuid.UUID(on_call)) == 1  # never paged twice
    got = await handoff(tenant, created["id"])
    assert [(p["step"], p["reason"]) for p in got["paged"]] == [(0, "rotation:primary")] + [(1, "all_seniors")] * 3
    assert [e["step"] for e in await paged_events(runtime, tenant)] == [0, 1]

    timeline = (await tenant["val"].get(f"/api/v1/handoffs/{created['id']}/timeline")).json()
    paged = [e for e in timeline if e["type"] == "paged"]
    assert [e["detail"]["step"] for e in paged] == [0, 1]
    assert paged[0]["detail"]["users"] == [{"user": page["user"], "reason": "rotation:primary"}]
    assert timeline[0]["type"] == "created"
    deliveries = (await tenant["abe"].get(f"/api/v1/handoffs/{created['id']}/deliveries")).json()
    assert sorted(d["step"] for d in deliveries if d["channel"] == "email" and d["round"] == 0) == [0, 1, 1, 1]


async def test_a_claim_before_a_step_stops_it(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await team(tenants)
    await put_on_call(tenant, ("primary", [tenant["abe"], tenant["bea"]]))
    await put_policy(tenant, {"steps": ROTA_THEN_ALL})
    created = await escalate(tenant)
    claimer = tenant[who(tenant, created["paged"][0]["user"]["id"])]
    assert (await claimer.post(f"/api/v1/handoffs/{created['id']}/claim")).status_code == 200
    await time_passes(runtime, created["id"])
    assert ("step", 1) not in await fire(runtime, created["id"])
    assert [step for r, step, _ in await emails(runtime, created["id"]) if r == 0] == [0]
    assert len((await handoff(tenant, created["id"]))["paged"]) == 1


async def test_withdrawing_stops_later_steps(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await team(tenants)
    await put_on_call(tenant, ("primary", [tenant["abe"]]))
    await put_policy(tenant, {"steps": ROTA_THEN_ALL})
    created = await escalate(tenant)
    assert (await tenant["junior"].post(f"/api/v1/handoffs/{created['id']}/withdraw")).status_code == 200
    await time_passes(runtime, created["id"])
    assert await fire(runtime, created["id"]) == []
    assert len(await paged_events(runtime, tenant)) == 1


async def test_a_step_that_pages_nobody_is_skipped_and_the_next_pages_at_once(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await team(tenants)
    # Nobody is on call in `nights` before its start, and the escalator on call in `desk` is never paged.
    await put_on_call(tenant, ("primary", [tenant["abe"]]), ("desk", [tenant["junior"]]))
    document = (await tenant["owner"].get(f"/api/v1/accounts/{tenant.account_id}/on-call")).json()
    document["rotations"].append(
        {"name": "nights", "members": [str(tenant["bea"].id)], "start": "2099-01-05T00:00", "turn_days": 7}
    )
    response = await tenant["owner"].request("PUT", f"/api/v1/accounts/{tenant.account_id}/on-call", json=document)
    assert response.status_code == 200, response.text
    steps = [
        {"after_s": 0, "notify": ["rotation:nights", "rotation:desk"]},
        {"after_s": 60, "notify": [f"user:{tenant['cal'].id}", "rotation:nights"]},
        {"after_s": 120, "notify": [f"user:{tenant['cal'].id}"]},
        {"after_s": 180, "notify": ["rotation:primary"]},
    ]
    await put_policy(tenant, {"steps": steps})

    created = await escalate(tenant)
    assert [(p["user"]["id"], p["step"], p["reason"]) for p in created["paged"]] == [(str(tenant["cal"].id), 1, "user")]
    timeline = (await tenant["cal"].get(f"/api/v1/handoffs/{created['id']}/timeline")).json()
    assert [(e["type"], e["detail"].get("step")) for e in timeline if e["type"] in ("paged", "step_skipped")] == [
        ("step_skipped", 0),
        ("paged", 1),
    ]
    await time_passes(runtime, created["id"])
    assert ("step", 2) in await fire(runtime, created["id"])  # cal again: nobody new, so step 3 at once
    got = await handoff(tenant, created["id"])
    assert [(p["user"]["id"], p["step"], p["reason"]) for p in got["paged"]] == [
        (str(tenant["cal"].id), 1, "user"),
        (str(tenant["abe"].id), 3, "rotation:primary"),
    ]
    timeline = (await tenant["cal"].get(f"/api/v1/handoffs/{created['id']}/timeline")).json()
    assert [(e["type"], e["detail"].get("step")) for e in timeline if e["type"] in ("paged", "step_skipped")] == [
        ("step_skipped", 0),
        ("paged", 1),
        ("step_skipped", 2),
        ("paged", 3),
    ]
    await time_passes(runtime, created["id"])
    assert [t for t in await fire(runtime, created["id"]) if t[0] == "step"] == []  # the last step has passed


async def test_with_nobody_on_call_every_active_senior_is_paged_as_the_fallback(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await team(tenants)
    await tenants.add_user(tenant, "gone", "engineer", active=False)
    document = {
        "time_zone": "UTC",
        "rotations": [
            {"name": "nights", "members": [str(tenant["bea"].id)], "start": "2099-01-05T00:00", "turn_days": 7}
        ],
        "overrides": [],
    }
    response = await tenant["owner"].request("PUT", f"/api/v1/accounts/{tenant.account_id}/on-call", json=document)
    assert response.status_code == 200, response.text
    await put_policy(tenant, {"steps": [{"after_s": 0, "notify": ["rotation:nights"]}]})

    created = await escalate(tenant)
    assert {p["reason"] for p in created["paged"]} == {"fallback"}
    assert {uuid.UUID(p["user"]["id"]) for p in created["paged"]} == ids(tenant, "owner", "abe", "bea", "cal")
    assert {user for _, _, user in await emails(runtime, created["id"])} == ids(tenant, "owner", "abe", "bea", "cal")
    [event] = await paged_events(runtime, tenant)
    assert {p["reason"] for p in event["paged"]} == {"fallback"}


async def test_an_override_is_the_reason_and_reminders_reach_only_those_paged(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await team(tenants)
    now = utcnow()
    override = {
        "rotation": "primary",
        "user_id": str(tenant["cal"].id),
        "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat(),
    }
    await put_on_call(tenant, ("primary", [tenant["abe"], tenant["bea"]]), overrides=[override])
    await put_policy(
        tenant,
        {
            "unclaimed_reminder_s": {"low": 5, "normal": 5, "high": 5},
            "max_reminders": 1,
            "steps": [{"after_s": 0, "notify": ["rotation:primary"]}, {"after_s": 3600, "notify": ["all_seniors"]}],
        },
    )
    created = await escalate(tenant)
    assert [(p["user"]["id"], p["reason"]) for p in created["paged"]] == [(str(tenant["cal"].id), "override:primary")]

    async with runtime.sessionmaker() as db:  # the reminder falls due; the next step does not yet
        await db.execute(
            update(HandoffTimer)
            .where(HandoffTimer.handoff_id == uuid.UUID(created["id"]), HandoffTimer.kind == "reminder")
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    assert await fire(runtime, created["id"]) == [("reminder", 1)]
    assert [(r, u) for r, _, u in await emails(runtime, created["id"])] == [
        (0, tenant["cal"].id),
        (1, tenant["cal"].id),
    ]
