"""`handoff notifier` killed mid-fan-out and restarted: every senior still gets exactly one email."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import redis.asyncio

from tests.conftest import JWT_SECRET, fresh_pg_database, redis_db_url
from tests.support.processes import api_env, running, spare_port, started
from tests.support.smtp import MailCatcher, SMTPServer
from tests.support.tenants import Actor, TenantFactory

WORKER_REDIS = redis_db_url(2)
SENIORS = 6
ACCEPTED_BEFORE_KILL = 3


async def wait_until(condition, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started_at = time.monotonic()
    while not condition():
        assert time.monotonic() - started_at < timeout, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
    return time.monotonic() - started_at


async def sent_count(senior: Actor, handoff_id: str) -> int:
    rows = (await senior.get(f"/api/v1/handoffs/{handoff_id}/deliveries")).json()
    return sum(1 for r in rows if r["channel"] == "email" and r["status"] == "sent")


async def test_a_killed_notifier_resumes_without_sending_twice(tmp_path: Path) -> None:
    flush = redis.asyncio.Redis.from_url(WORKER_REDIS)
    await flush.flushdb()
    await flush.aclose()
    catcher = MailCatcher(accept_limit=ACCEPTED_BEFORE_KILL)
    smtp = SMTPServer(catcher)
    smtp.start()
    port = spare_port()
    try:
        with fresh_pg_database() as database_url:
            env = api_env(database_url, WORKER_REDIS, JWT_SECRET) | {
                "HANDOFF_SMTP_HOST": "127.0.0.1",
                "HANDOFF_SMTP_PORT": str(smtp.port),
                "HANDOFF_SMTP_STARTTLS": "false",
                "HANDOFF_JOB_TIMEOUT_S": "3",
            }
            with running(["api"], cwd=tmp_path, env=env, port=port), started(["assessor"], cwd=tmp_path, env=env):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                    factory = TenantFactory(http, JWT_SECRET)
                    tenant = await factory.create(junior="engineer")
                    seniors = [await factory.add_user(tenant, f"senior{i}", "engineer") for i in range(SENIORS)]
                    junior = tenant["junior"]

                    with started(["notifier"], cwd=tmp_path, env=env) as first:
                        handoff = await junior.escalate((await junior.new_session("Mail flow stopped"))["id"])
                        # "After k sends": k messages accepted and recorded as sent, the rest in flight.
                        deadline = time.monotonic() + 30
                        while await sent_count(seniors[0], handoff["id"]) < ACCEPTED_BEFORE_KILL or not catcher.held:
                            assert time.monotonic() < deadline, "the notifier did not get k sends out"
                            await asyncio.sleep(0.05)
                        os.kill(first.pid, signal.SIGKILL)
                        first.wait()
                    catcher.accept_limit = None
                    catcher.release.set()
                    assert len(catcher.received) == ACCEPTED_BEFORE_KILL

                    with started(["notifier"], cwd=tmp_path, env=env):
                        waited = await wait_until(lambda: len(catcher.received) >= SENIORS, 60, "the remaining emails")
                        await asyncio.sleep(1.0)  # would a duplicate still arrive?
                    print(f"\nrestarted notifier finished the fan-out {waited:.1f} s after the kill")

                    per_recipient = Counter(r.to for r in catcher.received)
                    assert len(per_recipient) == SENIORS
                    assert set(per_recipient.values()) == {1}
                    rows = (await seniors[0].get(f"/api/v1/handoffs/{handoff['id']}/deliveries")).json()
                    emails = [r for r in rows if r["channel"] == "email"]
                    assert len(emails) == SENIORS
                    assert {r["status"] for r in emails} == {"sent"}
    finally:
        smtp.stop()
