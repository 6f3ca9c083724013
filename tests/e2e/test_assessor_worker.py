"""End to end on real Redis and PostgreSQL: `handoff api` + `handoff assessor` as separate processes."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import redis.asyncio

from tests.conftest import JWT_SECRET, fresh_pg_database, redis_db_url
from tests.support.processes import api_env, running, spare_port, started
from tests.support.sse import SSEClient
from tests.support.tenants import TenantFactory

WORKER_REDIS = redis_db_url(1)


async def test_an_escalation_gets_its_assessment_from_the_worker(tmp_path: Path) -> None:
    flush = redis.asyncio.Redis.from_url(WORKER_REDIS)
    await flush.flushdb()
    await flush.aclose()
    port = spare_port()
    with fresh_pg_database() as database_url:
        env = api_env(database_url, WORKER_REDIS, JWT_SECRET)
        with running(["api"], cwd=tmp_path, env=env, port=port), started(["assessor"], cwd=tmp_path, env=env):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                tenant = await TenantFactory(http, JWT_SECRET).create()
                junior, senior = tenant["junior"], tenant["senior"]
                watcher = await SSEClient.connect(port, senior.token)
                assert (await watcher.next_frame()).event == "ready"

                session = await junior.new_session(
                    "Print jobs stuck in the queue at reception",
                    messages=[
                        {"role": "engineer", "content": "HP LaserJet shows offline, jobs pile up in the spooler"},
                        {
                            "role": "engineer",
                            "content": "Restarted the print spooler",
                            "kind": "step",
                            "step_status": "failed",
                        },
                    ],
                )
                started_at = time.perf_counter()
                handoff = await junior.escalate(session["id"])
                created = await watcher.next_frame(timeout=10)
                paged = await watcher.next_frame(timeout=10)
                assessed = await watcher.next_frame(timeout=30)
                print(f"\nescalation -> assessment on the stream: {(time.perf_counter() - started_at) * 1000:.0f} ms")
                assert created.event == "handoff_created"
                assert (paged.event, paged.json["handoff_id"]) == ("handoff_paged", handoff["id"])
                assert assessed.event == "handoff_assessment_ready"
                assert assessed.json["handoff_id"] == handoff["id"]
                assert assessed.json["handoff"]["assessment_status"] == "ready"

                stored = (await senior.get(f"/api/v1/handoffs/{handoff['id']}")).json()
                assert stored["assessment_status"] == "ready"
                data = stored["ai_assessment_data"]
                assert data["provider"] == "heuristic"
                assert all("restart the print spooler" not in s.lower() for s in data["suggested_steps"])
                await watcher.close()
