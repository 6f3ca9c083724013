"""Nothing lost, nothing stuck: real `handoff` processes through Redis, SMTP and provider outages.

Each test runs a redis-server of its own (which it stops and starts), a fresh PostgreSQL database,
an aiosmtpd server on loopback and the API and workers as child processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio

from shared.jobs.base import JOB_QUEUES
from tests.conftest import JWT_SECRET, fresh_pg_database
from tests.support.ai_servers import fake_ai_server, slow_answer, status
from tests.support.processes import RedisServer, api_env, running, spare_port, started
from tests.support.settled import quiet
from tests.support.smtp import SMTPServer
from tests.support.tenants import Actor, Tenant, TenantFactory
from tests.support.waiting import eventually

GOOD_ASSESSMENT = {
    "summary": "The print spooler is stuck on a corrupt job.",
    "likely_causes": [{"cause": "A corrupt spool file", "confidence": 0.6}],
    "suggested_steps": ["Clear C:\\Windows\\System32\\spool\\PRINTERS", "Reinstall the printer driver"],
    "missing_info": ["The printer model"],
    "risk": "low",
}


@dataclass
class Stack:
    """What one test runs on: its Redis, database, SMTP server, API and the environment for workers."""

    redis: RedisServer
    smtp: SMTPServer
    env: dict[str, str]
    http: httpx.AsyncClient
    tmp: Path
    exits: ExitStack

    def worker(self, kind: str, name: str, **extra: str) -> subprocess.Popen[str]:
        """Start `handoff <kind>` in a folder of its own (its own log), stopped when the test ends."""
        folder = self.tmp / name
        folder.mkdir(exist_ok=True)
        return self.exits.enter_context(started([kind], cwd=folder, env=self.env | extra))

    def log_of(self, kind: str, name: str) -> str:
        return (self.tmp / name / f"handoff-{kind}.log").read_text()

    async def quiet(self) -> bool:
        """Nothing left to publish, send or run, and no timer due (see `settled`)."""
        return await quiet(self.env["HANDOFF_DATABASE_URL"], self.env["HANDOFF_REDIS_URL"])


@pytest.fixture
async def stack(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    extra: dict[str, str] = getattr(request, "param", {})
    own_redis = RedisServer(tmp_path)
    own_redis.start()
    smtp = SMTPServer()
    port = spare_port()
    try:
        with fresh_pg_database() as database_url, ExitStack() as exits:
            env = api_env(database_url, own_redis.url, JWT_SECRET) | {
                "HANDOFF_SMTP_HOST": "127.0.0.1",
                "HANDOFF_SMTP_PORT": str(smtp.port),
                "HANDOFF_SMTP_STARTTLS": "false",
                "HANDOFF_LOG_LEVEL": "INFO",
                **extra,
            }
            exits.enter_context(running(["api"], cwd=tmp_path, env=env, port=port))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                yield Stack(own_redis, smtp, env, http, tmp_path, exits)
    finally:
        smtp.stop()
        own_redis.stop()


async def team(stack: Stack) -> Tenant:
    """A junior, three seniors (engineer, admin, owner) and a viewer, who is never emailed."""
    return await TenantFactory(stack.http, JWT_SECRET).create(
        junior="engineer", sam="engineer", riley="admin", olivia="owner", val="viewer"
    )


async def workers_up(stack: Stack, *kinds: str) -> None:
    """Until a worker of each kind has reported in (it writes its queue's health-check key)."""
    queues = {"assessor": JOB_QUEUES["assess"], "notifier": JOB_QUEUES["notify"]}
    keys = [f"{queues[kind]}:health-check" for kind in kinds]
    client = redis.asyncio.Redis.from_url(stack.redis.url)
    try:

        async def reported() -> bool:
            return int(await client.exists(*keys)) == len(keys)

        await eventually(reported, 90, "the workers to start")  # a loaded machine starts them slowly
    finally:
        await client.aclose()


def email_of(tenant: Tenant, key: str) -> str:
    return f"{key}-{str(tenant[key].id)[:8]}@msp.test"


async def deliveries(actor: Actor, handoff_id: str) -> list[dict[str, Any]]:
    response = await actor.get(f"/api/v1/handoffs/{handoff_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json())


def emails_per_handoff(stack: Stack) -> Counter[tuple[str, str]]:
    return Counter((r.to, str(r.message["X-Handoff-Id"])) for r in stack.smtp.catcher.received)


def alive(processes: list[subprocess.Popen[str]]) -> list[bool]:
    return [p.poll() is None for p in processes]


async def test_workers_outlive_a_redis_outage_and_nothing_is_lost(stack: Stack) -> None:
    stack.smtp.start()
    tenant = await team(stack)
    junior, sam = tenant["junior"], tenant["sam"]
    names = [(kind, f"{kind}-{n}") for kind in ("assessor", "notifier") for n in (1, 2)]
    workers = [stack.worker(kind, name) for kind, name in names]
    await workers_up(stack, "assessor", "notifier")

    def losses() -> list[int]:
        """How often each worker has found Redis gone (it says so each time it tries to reconnect)."""
        return [stack.log_of(kind, name).count("lost Redis") for kind, name in names]

    stack.redis.stop()
    await eventually(lambda: min(losses()) >= 1, 30, "every worker to find Redis gone")
    created = []
    for n in range(5):
        session = await junior.new_session(f"Outage ticket {n}")
        response = await junior.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "escalate"})
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
    tried = losses()
    # The workers keep trying while Redis is away: each tries (and fails) again after the escalations.
    await eventually(lambda: all(n > t for n, t in zip(losses(), tried, strict=True)), 30, "more tries")
    assert all(alive(workers)), "a worker exited while Redis was down"

    stack.redis.start()
    seniors = {email_of(tenant, k) for k in ("sam", "riley", "olivia")}

    async def all_ready() -> bool:
        for handoff_id in created:
            body = (await sam.get(f"/api/v1/handoffs/{handoff_id}")).json()
            if body["assessment_status"] != "ready":
                return False
        return True

    back_at = time.monotonic()
    await eventually(lambda: len(stack.smtp.catcher.received) >= 15, 60, "an email per senior per escalation")
    recovered = time.monotonic() - back_at
    await eventually(all_ready, 60 - recovered, "every assessment")
    await eventually(
        stack.quiet, 30, "everything sent, nothing left to send", interval=0.2
    )  # would a duplicate still arrive?

    counted = emails_per_handoff(stack)
    print(
        f"\nRedis back: {len(stack.smtp.catcher.received)} emails for 5 escalations x 3 seniors "
        f"{recovered:.1f} s later; workers alive: {alive(workers)}"
    )
    assert set(counted) == {(to, h) for h in created for to in seniors}
    assert set(counted.values()) == {1}
    assert all(alive(workers)), "a worker exited"
    for handoff_id in created:
        rows = await deliveries(sam, handoff_id)
        assert sorted(r["status"] for r in rows if r["channel"] == "email") == ["sent"] * 3


@pytest.mark.parametrize("stack", [{"HANDOFF_JOB_MAX_TRIES": "2", "HANDOFF_SWEEP_INTERVAL_S": "1"}], indirect=True)
async def test_smtp_down_past_the_retry_budget_then_the_sweeper_sends_once(stack: Stack) -> None:
    tenant = await team(stack)
    junior, sam = tenant["junior"], tenant["sam"]
    workers = [stack.worker("assessor", "assessor"), stack.worker("notifier", "notifier")]
    await workers_up(stack, "assessor", "notifier")
    handoff = await junior.escalate((await junior.new_session("Mail relay refuses connections"))["id"])

    async def attempts() -> list[int]:
        return [r["attempts"] for r in await deliveries(sam, handoff["id"]) if r["channel"] == "email"]

    async def past_the_budget() -> bool:
        tried = await attempts()
        return len(tried) == 3 and min(tried) > 2  # two tries per job: a third means the sweeper queued it again

    started_at = time.monotonic()
    await eventually(past_the_budget, 90, "tries beyond one job's budget")
    down_for = time.monotonic() - started_at
    assert stack.smtp.catcher.received == []
    stack.smtp.start()
    await eventually(lambda: len(stack.smtp.catcher.received) >= 3, 60, "the three emails")
    up_after = time.monotonic() - started_at - down_for
    await eventually(stack.quiet, 30, "everything sent, nothing left to send", interval=0.2)
    # absence: the sweeper (every 0.75-1.25 s) gives no sign of a round that found nothing: give it two
    await asyncio.sleep(2.5)

    rows = [r for r in await deliveries(sam, handoff["id"]) if r["channel"] == "email"]
    print(
        f"\nSMTP down {down_for:.1f} s (tries per job: 2); sent {up_after:.1f} s after it came back; "
        f"attempts per row {sorted(r['attempts'] for r in rows)}; emails {len(stack.smtp.catcher.received)}"
    )
    assert sorted(Counter(r.to for r in stack.smtp.catcher.received).values()) == [1, 1, 1]
    assert {r["status"] for r in rows} == {"sent"}
    assert all(alive(workers))


@contextmanager
def ai_env(base_url: str) -> Iterator[dict[str, str]]:
    yield {
        "HANDOFF_AI_PROVIDER": "openai",
        "HANDOFF_AI_BASE_URL": base_url,
        "HANDOFF_AI_API_KEY": "test-key-for-the-fake-server",
        "HANDOFF_AI_MODEL": "test-model",
        "HANDOFF_AI_TIMEOUT_S": "15",
    }


async def test_a_provider_failing_forever_ends_failed_with_the_rules_and_nothing_pending(stack: Stack) -> None:
    stack.smtp.start()
    tenant = await team(stack)
    junior, sam = tenant["junior"], tenant["sam"]
    async with fake_ai_server("openai") as fake:
        fake.default = status(500)
        with ai_env(fake.base_url) as extra:
            stack.worker("assessor", "assessor", **extra)
            stack.worker("notifier", "notifier")
            await workers_up(stack, "assessor", "notifier")
            handoff = await junior.escalate((await junior.new_session("Printer offline at reception"))["id"])

            async def settled() -> bool:
                body = (await sam.get(f"/api/v1/handoffs/{handoff['id']}")).json()
                emails = [r for r in await deliveries(sam, handoff["id"]) if r["channel"] == "email"]
                finished = len(emails) == 3 and "pending" not in {r["status"] for r in emails}
                return body["assessment_status"] != "pending" and finished

            asked_at = time.monotonic()
            await eventually(settled, 60, "the assessment and the deliveries to settle")
            took = time.monotonic() - asked_at
    body = (await sam.get(f"/api/v1/handoffs/{handoff['id']}")).json()
    rows = await deliveries(sam, handoff["id"])
    print(
        f"\nprovider answering 500: {len(fake.requests)} requests, assessment {body['assessment_status']} "
        f"({body['ai_assessment_data']['provider']}) after {took:.1f} s; deliveries {sorted(r['status'] for r in rows)}"
    )
    assert body["assessment_status"] == "failed"
    assert body["ai_assessment_data"]["provider"] == "heuristic"
    assert body["ai_assessment_data"]["suggested_steps"]
    assert sorted(r["status"] for r in rows if r["channel"] == "email") == ["sent"] * 3
    assert [r["status"] for r in rows if r["channel"] == "psa"] == ["skipped"]


async def test_sigterm_mid_job_lets_the_job_finish_and_exits_within_25_s(stack: Stack) -> None:
    tenant = await team(stack)
    junior, sam = tenant["junior"], tenant["sam"]
    async with fake_ai_server("openai") as fake:
        fake.then(slow_answer(json.dumps(GOOD_ASSESSMENT), 5))
        with ai_env(fake.base_url) as extra:
            assessor = stack.worker("assessor", "assessor", **extra)
            await workers_up(stack, "assessor")
            handoff = await junior.escalate((await junior.new_session("Print jobs stuck in the queue"))["id"])
            await eventually(lambda: len(fake.requests) >= 1, 30, "the job to ask the provider")

            os.kill(assessor.pid, signal.SIGTERM)
            signalled = time.monotonic()
            await eventually(lambda: assessor.poll() is not None, 25, "the worker to exit after SIGTERM")
            exited_after = time.monotonic() - signalled
    body = (await sam.get(f"/api/v1/handoffs/{handoff['id']}")).json()
    print(
        f"\nSIGTERM while the provider takes 5 s to answer: exited {exited_after:.1f} s later "
        f"with {assessor.returncode}; "
        f"assessment {body['assessment_status']} by {body['ai_assessment_data']['provider']}"
    )
    assert assessor.returncode == 0
    assert body["assessment_status"] == "ready"
    assert body["ai_assessment_data"]["provider"] == "openai"
    assert body["ai_assessment_data"]["summary"] == GOOD_ASSESSMENT["summary"]
