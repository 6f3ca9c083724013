"""What on-call resolution costs at the document's limits: 20 rotations x 50 members x 200 overrides.

Europe/London (the window spans the spring-forward change), weekday and overnight windows on some
rotations, overrides spread over the rotations and overlapping. Two figures, each beside the directory
read every authenticated request already pays (the caller's user row, `principal_from_claims`):
- a step firing: the on-call document, the active seniors and every rotation's answer (`on_call_at`,
  what `run_steps` calls);
- a 35-day `shifts` call: the service function the API handler runs (document, seniors, schedule).
Each is timed in a fresh database session, as each request and each step timer gets one. PostgreSQL only.
Nothing asserts a time: the assertions are what a user would notice (answers there, and in agreement).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest

from services.handoff_api.app import create_app
from shared.auth.principal import Principal
from shared.bootstrap import Runtime
from shared.clock import rfc3339
from shared.directory.service import principal_from_claims
from shared.directory.who import OnCallFacts
from shared.escalations.paging import on_call_at
from shared.oncall.schemas import MAX_MEMBERS, MAX_OVERRIDES, MAX_ROTATIONS, OnCallShifts
from shared.oncall.service import on_call_shifts
from tests.bench.conftest import p50_p99, record, scale
from tests.conftest import JWT_SECRET
from tests.support.tenants import Tenant, TenantFactory

ROUNDS = scale(15, 200)
SENIORS = 2 * MAX_MEMBERS  # each rotation takes 50 of them, so rotations share some members and not others
ZONE = "Europe/London"
# 35 days across London's spring-forward (2027-03-28 01:00 UTC), in the contract's widest shifts window.
SINCE = datetime(2027, 3, 10, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=35)
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def rotation(index: int, seniors: list[str]) -> dict[str, Any]:
    """Turns of 1, 3 or 7 days; a quarter with office-hours windows, a quarter with overnight weekend ones."""
    members = [seniors[(index * 5 + k) % len(seniors)] for k in range(MAX_MEMBERS)]
    windows: list[dict[str, Any]] = []
    if index % 4 == 1:
        windows = [{"days": WEEKDAYS, "from": "09:00", "to": "17:30"}]
    elif index % 4 == 2:
        windows = [{"days": ["fri", "sat", "sun"], "from": "22:00", "to": "06:00"}]
    return {
        "name": f"rota-{index:02d}",
        "members": members,
        "start": "2027-01-04T09:00",
        "turn_days": (1, 3, 7)[index % 3],
        "windows": windows,
    }


def override(index: int, rotations: list[dict[str, Any]]) -> dict[str, Any]:
    """Ten per rotation, 6 to 54 hours each, spread over the window; some overlap the one before."""
    target = rotations[index % len(rotations)]
    nth = index // len(rotations)
    start = SINCE + timedelta(days=3.3 * nth + (index % 7) / 3, hours=index % 5)
    return {
        "rotation": target["name"],
        "user_id": target["members"][(nth * 7 + index) % MAX_MEMBERS],
        "start": rfc3339(start),
        "end": rfc3339(start + timedelta(hours=6 + 12 * (index % 5))),
    }


@pytest.fixture
async def pg_client(runtimes: dict[str, Runtime]) -> AsyncIterator[httpx.AsyncClient]:
    runtime = runtimes["postgresql"]
    app = create_app(runtime.settings, runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as http:
        yield http


async def crowded_account(http: httpx.AsyncClient) -> tuple[Tenant, list[str]]:
    """An account whose on-call document is at every limit of the contract; its seniors' ids."""
    factory = TenantFactory(http, JWT_SECRET)
    tenant = await factory.create(owner="owner")
    seniors = [str((await factory.add_user(tenant, f"senior{n}", "engineer")).id) for n in range(SENIORS)]
    rotations = [rotation(i, seniors) for i in range(MAX_ROTATIONS)]
    document = {
        "time_zone": ZONE,
        "rotations": rotations,
        "overrides": [override(i, rotations) for i in range(MAX_OVERRIDES)],
    }
    saved = await tenant["owner"].request("PUT", f"/api/v1/accounts/{tenant.account_id}/on-call", json=document)
    assert saved.status_code == 200, saved.text
    return tenant, seniors


def covering(found: OnCallShifts, name: str, moment: datetime) -> uuid.UUID | None:
    """Who the shifts answer says holds rotation `name` at `moment` (None inside a gap)."""
    stamp = rfc3339(moment)
    for shift in found.shifts:
        if shift.rotation == name and shift.start <= stamp < shift.end:
            return shift.user.id
    assert any(g.rotation == name and g.start <= stamp < g.end for g in found.gaps), (name, stamp)
    return None


async def timed(work: Callable[[], Awaitable[Any]], into: list[float]) -> Any:
    started = time.perf_counter()
    result = await work()
    into.append((time.perf_counter() - started) * 1000)
    return result


async def test_on_call_resolution_cost(runtimes: dict[str, Runtime], pg_client: httpx.AsyncClient) -> None:
    runtime = runtimes["postgresql"]
    tenant, seniors = await crowded_account(pg_client)
    account_id = tenant.account_id
    assert account_id is not None
    owner = tenant["owner"]
    claims = {"sub": str(owner.id), "role": owner.role, "account_id": str(account_id), "name": owner.name}
    reader = Principal(user_id=owner.id, account_id=account_id, role="owner", name=owner.name)
    # Moments across the window, off the hour, so step firings land inside turns, windows and overrides alike.
    step = (UNTIL - SINCE) / ROUNDS
    moments = [SINCE + step * n + timedelta(minutes=37) for n in range(ROUNDS)]

    directory_ms: list[float] = []
    step_ms: list[float] = []
    shifts_ms: list[float] = []
    answers: list[tuple[datetime, dict[str, OnCallFacts]]] = []
    found: OnCallShifts | None = None
    # One round untimed first (statement and zone caches warm), then interleaved, so whatever else the machine
    # does weighs on each figure alike.
    for n, moment in enumerate([moments[0], *moments]):
        if n == 1:
            for kept in (directory_ms, step_ms, shifts_ms, answers):
                kept.clear()
        async with runtime.sessionmaker() as db:
            principal = await timed(lambda: principal_from_claims(db, claims), directory_ms)
            assert principal is not None
            assert principal.user_id == owner.id
        async with runtime.sessionmaker() as db:
            answers.append((moment, await timed(lambda: on_call_at(db, account_id, moment), step_ms)))  # noqa: B023
        async with runtime.sessionmaker() as db:
            found = await timed(
                lambda: on_call_shifts(db, reader, account_id, rfc3339(SINCE), rfc3339(UNTIL)),
                shifts_ms,
            )
    assert found is not None

    floor = f"directory read of the caller {p50_p99(directory_ms)}"
    record(
        f"step firing: on-call document + active seniors + {MAX_ROTATIONS} answers, p50 / p99 ({ROUNDS} firings)",
        p50_p99(step_ms),
        floor,
        "none set; read beside the floor",
    )
    record(
        f"35-day shifts, {MAX_ROTATIONS} rotations x {MAX_MEMBERS} members x {MAX_OVERRIDES} overrides, "
        f"p50 / p99 ({ROUNDS} calls)",
        f"{p50_p99(shifts_ms)} ({len(found.shifts)} shifts, {len(found.gaps)} gaps)",
        floor,
        "none set; read beside the floor",
    )

    # What a user would notice: every rotation answered and scheduled, overrides showing, and a step pages
    # whom the shifts view says is on call at that instant.
    names = [f"rota-{i:02d}" for i in range(MAX_ROTATIONS)]
    assert {s.rotation for s in found.shifts} == set(names)
    assert any(s.source == "override" for s in found.shifts)
    assert {str(s.user.id) for s in found.shifts} <= set(seniors)
    for moment, answer in answers:
        assert list(answer) == names
        assert any(facts.user_id is not None for facts in answer.values())
        for name, facts in answer.items():
            assert facts.user_id == covering(found, name, moment), (name, moment)
    assert any(facts.source == "override" for _, answer in answers for facts in answer.values())
    # The API answers the same schedule the service function was timed on.
    over_api = await owner.get(
        f"/api/v1/accounts/{account_id}/on-call/shifts", params={"since": rfc3339(SINCE), "until": rfc3339(UNTIL)}
    )
    assert over_api.status_code == 200, over_api.text
    assert over_api.json() == msgspec.to_builtins(found)
