"""`handoff api` while PostgreSQL cannot be reached (restarting, failing over, behind a proxy that drops it):
a short outage costs a request some latency, a longer one a 503 `unavailable` with Retry-After, never a 500."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from shared.db.outage import CONNECT_PATIENCE_S
from tests.conftest import JWT_SECRET, REDIS_URL, fresh_pg_database
from tests.support.faultproxy import ProxyControl, fault_proxy
from tests.support.processes import api_env, running, spare_port
from tests.support.tenants import Tenant, TenantFactory

SHORT_OUTAGE_S = 2.0


@dataclass
class Behind:
    """`handoff api`, reaching PostgreSQL through the fault proxy's route `pg`, and a tenant made before any fault."""

    proxy: ProxyControl
    tenant: Tenant


@pytest.fixture
async def behind(tmp_path: Path) -> AsyncIterator[Behind]:
    with fresh_pg_database() as database_url:
        url = urlsplit(database_url)
        async with fault_proxy({"pg": url.port or 5432}, tmp_path / "proxy.log") as (proxy, ports):
            through = url._replace(netloc=f"{url.netloc.rsplit(':', 1)[0]}:{ports['pg']}").geturl()
            port = spare_port()
            with running(["api"], cwd=tmp_path, env=api_env(through, REDIS_URL, JWT_SECRET), port=port):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                    yield Behind(proxy, await TenantFactory(http, JWT_SECRET).create())


async def test_a_short_outage_costs_an_escalation_latency_not_an_error(behind: Behind) -> None:
    junior = behind.tenant["junior"]
    session = await junior.new_session("Printer offline at reception")
    await behind.proxy.send("down", "pg")  # every open connection reset, every new one too
    started = time.monotonic()
    escalating = asyncio.create_task(
        junior.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "escalate"})
    )
    await asyncio.sleep(SHORT_OUTAGE_S)  # fault: the outage itself
    await behind.proxy.send("heal", "pg")
    response = await escalating
    print(
        f"\nPostgreSQL away for {SHORT_OUTAGE_S} s: escalation answered {response.status_code} "
        f"after {time.monotonic() - started:.1f} s"
    )
    assert response.status_code == 201, response.text


async def test_a_longer_outage_is_503_unavailable_with_retry_after_and_then_the_same_call_works(
    behind: Behind,
) -> None:
    junior = behind.tenant["junior"]
    session = await junior.new_session("Printer offline at reception")
    await behind.proxy.send("down", "pg")
    started = time.monotonic()
    refused = await junior.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "escalate"})
    waited = time.monotonic() - started
    await behind.proxy.send("heal", "pg")
    again = await junior.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "escalate"})
    print(
        f"\nPostgreSQL away: {refused.status_code} after {waited:.1f} s (patience {CONNECT_PATIENCE_S} s), "
        f"then {again.status_code}"
    )
    assert refused.status_code == 503
    assert refused.json() == {
        "status_code": 503,
        "code": "unavailable",
        "detail": "the database cannot be reached; retry shortly",
    }
    assert int(refused.headers["retry-after"]) > 0
    assert again.status_code == 201, again.text
