"""Escalation steps fired by real `handoff notifier` processes, with the second step at 6 s.

One API replica, one assessor and two notifiers run against PostgreSQL and Redis for the whole module, with an
SMTP server on loopback that records every message; each test pages the seniors of an account of its own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import JWT_SECRET
from tests.support.mail_stack import MailStack, mail_stack, wait_until
from tests.support.processes import started
from tests.support.smtp import MailCatcher, Received
from tests.support.tenants import Actor, Tenant, TenantFactory
from tests.support.waiting import eventually

SECOND_STEP_S = 6
ROTA_THEN_ALL = [
    {"after_s": 0, "notify": ["rotation:primary"]},
    {"after_s": SECOND_STEP_S, "notify": ["all_seniors"]},
]
# Long before any test runs, so a rotation without windows always has someone on call.
START = "2026-01-05T00:00"
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MailStack]:
    """API and assessor, and two notifiers racing for every timer and email job."""
    async with mail_stack(tmp_path_factory.mktemp("steps"), MailCatcher(), seniors=1) as s:
        second = s.cwd / "second"  # its own folder, for its own log
        second.mkdir()
        with started(["notifier"], cwd=s.cwd, env=s.env), started(["notifier"], cwd=second, env=s.env):
            # A first escalation, emailed end to end, so the tests' seconds never include the notifiers' start.
            await s.junior.escalate((await s.junior.new_session("Warm-up"))["id"])
            await wait_until(lambda: len(s.catcher.received) == 1, 60, "the first email")
            yield s


async def team(s: MailStack, *seniors: str) -> Tenant:
    """A new account of a junior and the given seniors."""
    return await TenantFactory(s.junior.http, JWT_SECRET).create(
        junior="engineer", **dict.fromkeys(seniors, "engineer")
    )


def address(actor: Actor) -> str:
    return f"{actor.name.split()[0].lower()}-{str(actor.id)[:8]}@msp.test"


def mail_to(s: MailStack, actor: Actor) -> list[Received]:
    return [r for r in s.catcher.received if r.to == address(actor)]


def pages(s: MailStack, actor: Actor) -> list[Received]:
    """The emails that paged the senior (round 0), not the reminders."""
    return [r for r in mail_to(s, actor) if not str(r.message["Subject"]).startswith("[Reminder")]


async def put_on_call(tenant: Tenant, rotations: list[dict[str, Any]]) -> None:
    document = {"time_zone": "UTC", "rotations": rotations, "overrides": []}
    response = await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/on-call", json=document)
    assert response.status_code == 200, response.text


def rotation(name: str, *members: Actor, **more: Any) -> dict[str, Any]:
    return {"name": name, "members": [str(m.id) for m in members], "start": START, "turn_days": 1, **more}


async def put_policy(tenant: Tenant, body: dict[str, Any]) -> None:
    path = f"/api/v1/accounts/{tenant.account_id}/escalation-policy"
    response = await tenant.service.request("PUT", path, json=body)
    assert response.status_code == 200, response.text


async def deactivate(tenant: Tenant, actor: Actor) -> None:
    body = {"email": address(actor), "name": actor.name, "role": actor.role, "active": False}
    response = await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/users/{actor.id}", json=body)
    assert response.status_code == 200, response.text


async def on_call_now(tenant: Tenant, name: str) -> Actor:
    response = await tenant["junior"].get(f"/api/v1/accounts/{tenant.account_id}/on-call/now")
    [answer] = [r for r in response.json()["rotations"] if r["name"] == name]
    return next(a for a in tenant.users.values() if str(a.id) == answer["user"]["id"])


async def escalate(tenant: Tenant, title: str) -> dict[str, Any]:
    junior = tenant["junior"]
    return await junior.escalate((await junior.new_session(title))["id"])


async def paged(tenant: Tenant, handoff_id: str) -> list[tuple[str, int, str]]:
    got = (await tenant["junior"].get(f"/api/v1/handoffs/{handoff_id}")).json()
    return [(p["user"]["id"], p["step"], p["reason"]) for p in got["paged"]]


async def steps_done(stack: MailStack, *handoffs: dict[str, Any]) -> None:
    """Until no step of these escalations is still to come (each fired, or cancelled by a claim) and every email
    is sent: from then on no step can page anyone."""
    ids = [h["id"] for h in handoffs]
    await eventually(
        lambda: stack.quiet(ids, "step"), 30, "every step fired or cancelled, and its emails sent", interval=0.2
    )


async def test_step_zero_emails_only_the_senior_on_call_and_step_one_only_those_not_yet_paged(
    stack: MailStack,
) -> None:
    tenant = await team(stack, "abe", "bea", "cal")
    await put_on_call(tenant, [rotation("primary", tenant["abe"], tenant["bea"])])
    await put_policy(tenant, {"steps": ROTA_THEN_ALL})
    on_call = await on_call_now(tenant, "primary")
    others = [tenant[k] for k in ("abe", "bea", "cal") if tenant[k] is not on_call]

    created = await escalate(tenant, "Exchange queue stuck")
    assert await paged(tenant, created["id"]) == [(str(on_call.id), 0, "rotation:primary")]
    assert all(mail_to(stack, other) == [] for other in others)  # step 1 is not due yet
    await wait_until(lambda: len(pages(stack, on_call)) == 1, 15, "the on-call senior's email")

    await wait_until(lambda: all(pages(stack, o) for o in others), 20, "step 1's emails")
    await steps_done(stack, created)  # would anyone get a second copy?
    assert [len(mail_to(stack, a)) for a in (on_call, *others)] == [1, 1, 1]
    assert sorted(await paged(tenant, created["id"])) == sorted(
        [(str(on_call.id), 0, "rotation:primary")] + [(str(o.id), 1, "all_seniors") for o in others]
    )
    rows = (await on_call.get(f"/api/v1/handoffs/{created['id']}/deliveries")).json()
    assert sorted((r["recipient"], r["step"]) for r in rows if r["channel"] == "email") == sorted(
        [(address(on_call), 0)] + [(address(o), 1) for o in others]
    )
    assert all(address(tenant["junior"]) != r.to for r in stack.catcher.received)  # never the escalator


async def test_a_claim_before_step_one_stops_it(stack: MailStack) -> None:
    tenant = await team(stack, "abe", "bea", "cal")
    await put_on_call(tenant, [rotation("primary", tenant["abe"], tenant["bea"])])
    await put_policy(tenant, {"steps": ROTA_THEN_ALL})
    on_call = await on_call_now(tenant, "primary")
    others = [tenant[k] for k in ("abe", "bea", "cal") if tenant[k] is not on_call]

    created = await escalate(tenant, "VPN drops every ten minutes")
    assert (await on_call.post(f"/api/v1/handoffs/{created['id']}/claim")).status_code == 200
    await wait_until(lambda: len(pages(stack, on_call)) == 1, 15, "the on-call senior's email")
    await steps_done(stack, created)
    assert [len(mail_to(stack, a)) for a in (on_call, *others)] == [1, 0, 0]
    assert await paged(tenant, created["id"]) == [(str(on_call.id), 0, "rotation:primary")]
    timeline = (await on_call.get(f"/api/v1/handoffs/{created['id']}/timeline")).json()
    assert [e["detail"]["step"] for e in timeline if e["type"] == "paged"] == [0]


async def test_empty_steps_are_skipped_and_the_next_step_pages_at_once(stack: MailStack) -> None:
    tenant = await team(stack, "abe", "bea", "cal", "gone")
    tomorrow_but_one = WEEKDAYS[(datetime.now(UTC).weekday() + 2) % 7]
    await put_on_call(
        tenant,
        [
            rotation("leaver", tenant["gone"]),
            rotation("office", tenant["bea"], windows=[{"days": [tomorrow_but_one], "from": "09:00", "to": "10:00"}]),
            rotation("primary", tenant["abe"]),
        ],
    )
    await deactivate(tenant, tenant["gone"])  # the leaver's rotation now has nobody on call
    steps = [
        {"after_s": 0, "notify": ["rotation:leaver"]},
        {"after_s": 60, "notify": ["rotation:office"]},
        {"after_s": 120, "notify": ["rotation:primary"]},
        {"after_s": 180, "notify": ["all_seniors"]},
    ]
    await put_policy(tenant, {"steps": steps})
    now = (await tenant["junior"].get(f"/api/v1/accounts/{tenant.account_id}/on-call/now")).json()
    assert [(r["name"], r["user"]) for r in now["rotations"][:2]] == [("leaver", None), ("office", None)]

    created = await escalate(tenant, "File share is read-only")
    assert await paged(tenant, created["id"]) == [(str(tenant["abe"].id), 2, "rotation:primary")]
    await wait_until(lambda: len(pages(stack, tenant["abe"])) == 1, 15, "step 2's email")
    assert [mail_to(stack, tenant[k]) for k in ("bea", "cal", "gone")] == [[], [], []]
    timeline = (await tenant["abe"].get(f"/api/v1/handoffs/{created['id']}/timeline")).json()
    assert [(e["type"], e["detail"]["step"]) for e in timeline if e["type"] in ("paged", "step_skipped")] == [
        ("step_skipped", 0),
        ("step_skipped", 1),
        ("paged", 2),
    ]


async def test_with_nobody_ever_on_call_every_active_senior_is_paged_as_the_fallback(stack: MailStack) -> None:
    tenant = await team(stack, "abe", "bea", "cal", "gone")
    future = {"start": "2099-01-05T00:00"}  # nobody's turn has begun
    await put_on_call(tenant, [rotation("nights", tenant["bea"], **future)])
    await deactivate(tenant, tenant["gone"])
    await put_policy(tenant, {"steps": [{"after_s": 0, "notify": ["rotation:nights"]}]})

    created = await escalate(tenant, "Printer offline at reception")
    seniors = [tenant[k] for k in ("abe", "bea", "cal")]
    assert sorted((user, reason) for user, _, reason in await paged(tenant, created["id"])) == sorted(
        (str(a.id), "fallback") for a in seniors
    )
    await wait_until(lambda: all(pages(stack, a) for a in seniors), 15, "everybody's email")
    await steps_done(stack, created)
    assert [len(mail_to(stack, a)) for a in seniors] == [1, 1, 1]
    assert mail_to(stack, tenant["gone"]) == []
    assert mail_to(stack, tenant["junior"]) == []


async def test_reminders_reach_only_the_seniors_paged(stack: MailStack) -> None:
    tenant = await team(stack, "abe", "bea", "cal")
    await put_on_call(tenant, [rotation("primary", tenant["abe"], tenant["bea"])])
    await put_policy(
        tenant,
        {
            "unclaimed_reminder_s": {"low": 5, "normal": 5, "high": 5},
            "max_reminders": 1,
            "steps": [{"after_s": 0, "notify": ["rotation:primary"]}, {"after_s": 3600, "notify": ["all_seniors"]}],
        },
    )
    on_call = await on_call_now(tenant, "primary")

    created = await escalate(tenant, "Outlook keeps asking for a password")
    await wait_until(lambda: len(mail_to(stack, on_call)) == 2, 20, "the reminder")
    # Would the others get one too? The reminder was the last: none is still to come, and all is sent.
    await eventually(
        lambda: stack.quiet([created["id"]], "reminder"), 30, "the reminder sent, none to come", interval=0.2
    )
    assert sorted(str(r.message["Subject"]).split("]")[0] for r in mail_to(stack, on_call)) == [
        "[NORMAL",
        "[Reminder 1",
    ]
    assert [mail_to(stack, tenant[k]) for k in ("abe", "bea", "cal") if tenant[k] is not on_call] == [[], []]
    assert (await on_call.get(f"/api/v1/handoffs/{created['id']}")).json()["reminders_sent"] == 1


async def test_two_notifiers_page_each_senior_once_per_step(stack: MailStack) -> None:
    keys = ("abe", "bea", "cal", "dan", "eve")
    tenant = await team(stack, *keys)
    await put_on_call(tenant, [rotation("primary", *(tenant[k] for k in keys))])
    await put_policy(tenant, {"steps": ROTA_THEN_ALL})
    handoffs = [await escalate(tenant, f"Laptop {n} will not boot") for n in range(3)]
    seniors = [tenant[k] for k in keys]
    await wait_until(lambda: all(len(pages(stack, a)) == 3 for a in seniors), 25, "both steps of three escalations")
    await steps_done(stack, *handoffs)
    mail = [r for a in seniors for r in mail_to(stack, a)]
    per_message = Counter(str(r.message["Message-ID"]) for r in mail)
    assert len(per_message) == len(mail) == 3 * len(seniors)
    assert set(per_message.values()) == {1}
    for handoff in handoffs:
        assert sorted(user for user, _, _ in await paged(tenant, handoff["id"])) == sorted(str(a.id) for a in seniors)
