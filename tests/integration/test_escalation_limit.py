"""One engineer may escalate only so often per rolling hour, so the seniors' inboxes cannot be flooded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import msgspec
import pytest
from sqlalchemy import update

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from shared.config import ConfigError, Settings
from shared.handoffs.tables import HandoffRow
from tests.support.tenants import Actor, TenantFactory

LIMIT = 3


@pytest.fixture
async def limited(runtime: Runtime) -> AsyncIterator[TenantFactory]:
    """Tenants on an API whose escalation limit is LIMIT per user per hour."""
    settings = msgspec.structs.replace(runtime.settings, escalations_per_hour=LIMIT)
    transport = httpx.ASGITransport(app=create_app(settings, runtime=runtime), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield TenantFactory(http, settings.jwt_secret)


async def hand_off(actor: Actor, intent: str = "escalate") -> httpx.Response:
    session = await actor.new_session("Mailbox full for the whole sales team")
    return await actor.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": intent, "note": "stuck"})


async def backdate(runtime: Runtime, handoff_id: str, by: timedelta) -> None:
    """As if the escalation had been made `by` earlier."""
    async with runtime.sessionmaker() as db, db.begin():
        row = await db.get(HandoffRow, uuid.UUID(handoff_id))
        assert row is not None
        await db.execute(update(HandoffRow).where(HandoffRow.id == row.id).values(created_at=row.created_at - by))


async def test_escalations_beyond_the_hourly_limit_are_429_until_the_oldest_leaves_the_hour(
    limited: TenantFactory, runtime: Runtime
) -> None:
    tenant = await limited.create(junior="engineer", other="engineer")
    junior = tenant["junior"]
    made = [await hand_off(junior) for _ in range(LIMIT)]
    assert [response.status_code for response in made] == [201] * LIMIT

    # The first of them was made 59 minutes ago: it leaves the hour in about a minute.
    await backdate(runtime, made[0].json()["id"], timedelta(minutes=59))
    refused = await hand_off(junior)
    assert refused.status_code == 429
    error = refused.json()
    assert error["code"] == "rate_limited"
    assert error["status_code"] == 429
    assert "escalations in the last hour" in error["detail"]
    assert 1 <= error["retry_after_s"] <= 60
    assert int(refused.headers["retry-after"]) == error["retry_after_s"]

    # Parks are private and not counted; neither are other engineers' escalations.
    assert (await hand_off(junior, "park")).status_code == 201
    assert (await hand_off(tenant["other"])).status_code == 201

    # Once the oldest is more than an hour old, the next escalation goes through: the hour rolls.
    await backdate(runtime, made[0].json()["id"], timedelta(minutes=2))
    assert (await hand_off(junior)).status_code == 201
    assert (await hand_off(junior)).status_code == 429


async def test_escalations_at_once_do_not_slip_past_the_limit(limited: TenantFactory) -> None:
    tenant = await limited.create(junior="engineer")
    junior = tenant["junior"]
    sessions = [await junior.new_session(f"Printer {n} offline") for n in range(LIMIT + 3)]
    assert (await hand_off(junior)).status_code == 201

    async def escalate(session: dict[str, str]) -> int:
        path = f"/api/v1/ai-sessions/{session['id']}/handoff"
        return (await junior.post(path, json={"intent": "escalate", "note": "stuck"})).status_code

    statuses = await asyncio.gather(*(escalate(session) for session in sessions))
    assert sorted(statuses) == [201] * (LIMIT - 1) + [429] * (len(sessions) - LIMIT + 1)


def test_the_limit_is_a_positive_whole_number() -> None:
    assert Settings.from_env({}).escalations_per_hour == 30
    assert Settings.from_env({"HANDOFF_ESCALATIONS_PER_HOUR": "5"}).escalations_per_hour == 5
    for bad in ("0", "-3", "many", "1.5"):
        with pytest.raises(ConfigError, match=r"^HANDOFF_ESCALATIONS_PER_HOUR is not valid"):
            Settings.from_env({"HANDOFF_ESCALATIONS_PER_HOUR": bad})
