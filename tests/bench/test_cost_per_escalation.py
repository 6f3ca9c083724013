"""Cost per escalation: CPU milliseconds of the API, the assessor and the notifier for each escalation, by variant.

Real `handoff api`, `handoff assessor` and `handoff notifier` processes on PostgreSQL and Redis, an SMTP server, a
Teams Workflows and a Slack webhook receiver on loopback (speaking their wire formats). One account per variant,
each a junior and its seniors:
- baseline: 20 seniors, the default policy (one step: every senior), no chat destination;
- on-call at the contract's limits: 20 rotations x 50 members x 200 overrides (100 seniors), step 0 pages the
  20 rotations;
- 3 steps: 20 seniors paged over three steps (7 at once, 7 after 5 s, the rest after 10 s);
- 2 chat destinations: the baseline plus one Teams and one Slack destination.
Each variant's escalations go in together (4 at a time); its window runs from the first request to the moment
nothing is left to do (every assessment written, every step fired, every email and post sent, the outbox and the job
queues empty). Each process's CPU over the window (user + system, from the OS, children included) less what it
burns idle over as long (measured just before), divided by the escalations, is the figure. The ratio is to the
baseline's. Figures are printed, never asserted; asserted is that every escalation was delivered.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis.asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.clock import rfc3339
from shared.jobs.base import JOB_QUEUES
from shared.oncall.schemas import MAX_MEMBERS, MAX_OVERRIDES, MAX_ROTATIONS
from tests.bench.conftest import record, scale
from tests.conftest import JWT_SECRET, OUTBOUND_ALLOW, fresh_pg_database, redis_db_url
from tests.support.chat_servers import FakeSlackWebhook, FakeTeamsWorkflow
from tests.support.processes import api_env, running, spare_port, started
from tests.support.smtp import MailCatcher, SMTPServer
from tests.support.tenants import Tenant, TenantFactory
from tests.support.waiting import eventually

# Per variant; HANDOFF_BENCH_COST_ESCALATIONS=100 runs as many as you choose.
ESCALATIONS = int(os.environ.get("HANDOFF_BENCH_COST_ESCALATIONS") or scale(4, 500))
AT_ONCE = 4
SENIORS = 20
IDLE_S = float(scale(1, 3))  # seconds of each process idle, measured before each variant
DONE_TIMEOUT_S = scale(120, 1200)
WORKER_REDIS = redis_db_url(2)
MESSAGES = [{"role": "engineer", "content": "Tunnel resets after rekey; phase 2 lifetime checked. " * 4}] * 10


@dataclass
class CaughtMail(MailCatcher):
    """Counts each accepted message by the escalation it is about."""

    per_handoff: dict[str, int] = field(default_factory=dict)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            handoff = str(BytesHeaderParser(policy=policy.default).parsebytes(envelope.content)["X-Handoff-Id"])
            with self.lock:
                self.per_handoff[handoff] = self.per_handoff.get(handoff, 0) + 1
            self.received.clear()  # thousands of messages: only the counts are kept
        return reply


@dataclass
class Variant:
    name: str
    tenant: Tenant
    chat: bool = False
    sessions: list[str] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per process, per escalation
    took_s: float = 0.0


@dataclass
class Processes:
    pids: dict[str, int]

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds (user + system) each process and its children have used so far."""
        used: dict[str, float] = {}
        for name, pid in self.pids.items():
            process = psutil.Process(pid)
            total = 0.0
            for each in [process, *process.children(recursive=True)]:
                with_children = each.cpu_times()
                total += with_children.user + with_children.system
            used[name] = total
        return used


@contextmanager
def stack(cwd: Path, env: dict[str, str], port: int) -> Iterator[Processes]:
    with ExitStack() as processes:
        api, _ = processes.enter_context(running(["api"], cwd=cwd, env=env, port=port))
        assessor = processes.enter_context(started(["assessor"], cwd=cwd, env=env))
        notifier = processes.enter_context(started(["notifier"], cwd=cwd, env=env))
        yield Processes({"api": api.pid, "assessor": assessor.pid, "notifier": notifier.pid})


def on_call_document(seniors: list[str], now: datetime) -> dict[str, Any]:
    """20 rotations of 50 members (turns of 1, 3 or 7 days, some with windows) and 200 overrides around now."""
    rotations: list[dict[str, Any]] = []
    for index in range(MAX_ROTATIONS):
        windows: list[dict[str, Any]] = []
        if index % 4 == 1:
            windows = [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:30"}]
        elif index % 4 == 2:
            windows = [{"days": ["fri", "sat", "sun"], "from": "22:00", "to": "06:00"}]
        rotations.append(
            {
                "name": f"rota-{index:02d}",
                "members": [seniors[(index * 5 + k) % len(seniors)] for k in range(MAX_MEMBERS)],
                "start": (now - timedelta(days=60)).strftime("%Y-%m-%dT09:00"),
                "turn_days": (1, 3, 7)[index % 3],
                "windows": windows,
            }
        )
    overrides: list[dict[str, Any]] = []
    for index in range(MAX_OVERRIDES):
        target = rotations[index % len(rotations)]
        nth = index // len(rotations)
        start = now - timedelta(days=10) + timedelta(days=3 * nth + (index % 7) / 3, hours=index % 5)
        overrides.append(
            {
                "rotation": target["name"],
                "user_id": target["members"][(nth * 7 + index) % MAX_MEMBERS],
                "start": rfc3339(start),
                "end": rfc3339(start + timedelta(hours=6 + 12 * (index % 5))),
            }
        )
    return {"time_zone": "Europe/London", "rotations": rotations, "overrides": overrides}


async def account(factory: TenantFactory, seniors: int) -> tuple[Tenant, list[str]]:
    tenant = await factory.create(junior="engineer", owner="owner")
    ids = [str((await factory.add_user(tenant, f"senior{n}", "engineer")).id) for n in range(seniors)]
    return tenant, ids


async def put(tenant: Tenant, path: str, body: dict[str, Any]) -> None:
    answer = await tenant["owner"].request("PUT", f"/api/v1/accounts/{tenant.account_id}/{path}", json=body)
    assert answer.status_code == 200, answer.text


async def variants(http: httpx.AsyncClient, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook) -> list[Variant]:
    factory = TenantFactory(http, JWT_SECRET)
    baseline, _ = await account(factory, SENIORS)

    crowded, seniors = await account(factory, 2 * MAX_MEMBERS)
    await put(crowded, "on-call", on_call_document(seniors, datetime.now(UTC)))
    rotations = [f"rotation:rota-{i:02d}" for i in range(MAX_ROTATIONS)]
    await put(crowded, "escalation-policy", {"steps": [{"after_s": 0, "notify": rotations}]})

    stepped, seniors = await account(factory, SENIORS)
    steps = [
        {"after_s": 0, "notify": [f"user:{s}" for s in seniors[:7]]},
        {"after_s": 5, "notify": [f"user:{s}" for s in seniors[7:14]]},
        {"after_s": 10, "notify": ["all_seniors"]},
    ]
    await put(stepped, "escalation-policy", {"steps": steps})

    chatty, _ = await account(factory, SENIORS)
    destinations = [
        {"kind": "teams", "label": "Service desk", "url": teams.url},
        {"kind": "slack", "label": "#escalations", "url": slack.url},
    ]
    await put(chatty, "chat", {"destinations": destinations})
    return [
        Variant("baseline: 0 rotations, 1 step, 0 chat destinations", baseline),
        Variant(f"{MAX_ROTATIONS} rotations x {MAX_MEMBERS} members x {MAX_OVERRIDES} overrides", crowded),
        Variant("3 steps", stepped),
        Variant("2 chat destinations (Teams, Slack)", chatty, chat=True),
    ]


async def nothing_left(engine: AsyncEngine, jobs: redis.asyncio.Redis, variant: Variant) -> bool:
    """Every assessment written, step fired and delivery sent; nothing in the outbox or the job queues."""
    wanted = {"a": variant.tenant.account_id}
    checks = [
        "SELECT count(*) FROM handoffs WHERE account_id = :a AND assessment_status = 'pending'",
        "SELECT count(*) FROM deliveries WHERE account_id = :a AND status IN ('pending', 'sending')",
        "SELECT count(*) FROM handoff_timers WHERE account_id = :a AND kind = 'step'"
        " AND fired_at IS NULL AND cancelled_at IS NULL",
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND dead_at IS NULL",
    ]
    async with engine.connect() as db:
        for check in checks:
            if await db.scalar(text(check), wanted):
                return False
        delivered = await db.scalar(
            text("SELECT count(DISTINCT handoff_id) FROM deliveries WHERE handoff_id = ANY(:ids) AND status = 'sent'"),
            {"ids": [uuid.UUID(h) for h in variant.handoffs]},
        )
    if delivered != len(variant.handoffs):
        return False
    for queue in set(JOB_QUEUES.values()):
        if await jobs.zcard(queue):
            return False
    async for _ in jobs.scan_iter(match="arq:in-progress:*", count=1000):
        return False
    return True


async def run(variant: Variant, processes: Processes, engine: AsyncEngine, jobs: redis.asyncio.Redis) -> None:
    idle_from = processes.cpu_s()
    await asyncio.sleep(IDLE_S)  # real time must pass: each process's idle CPU rate is measured over this window
    idle_to = processes.cpu_s()
    idle_rate = {name: (idle_to[name] - idle_from[name]) / IDLE_S for name in idle_from}

    junior = variant.tenant["junior"]
    queue = list(variant.sessions)
    began_cpu, began = processes.cpu_s(), time.monotonic()

    async def escalator() -> None:
        while queue:
            session_id = queue.pop()
            variant.handoffs.append((await junior.escalate(session_id))["id"])

    await asyncio.gather(*(escalator() for _ in range(AT_ONCE)))
    # Every step timer fired, every delivery sent, nothing queued: the escalations' work is done.
    await eventually(
        lambda: nothing_left(engine, jobs, variant), DONE_TIMEOUT_S, f"{variant.name}: the escalations' work done"
    )
    ended_cpu, variant.took_s = processes.cpu_s(), time.monotonic() - began
    for name in ended_cpu:
        busy = ended_cpu[name] - began_cpu[name] - idle_rate[name] * variant.took_s
        variant.cpu_ms[name] = max(0.0, busy) * 1000 / len(variant.handoffs)


async def test_cost_per_escalation_by_variant(
    tmp_path: Path, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    flush = redis.asyncio.Redis.from_url(WORKER_REDIS)
    await flush.flushdb()
    catcher = CaughtMail()
    smtp = SMTPServer(catcher)
    smtp.start()
    port = spare_port()
    try:
        with fresh_pg_database() as database_url:
            env = api_env(database_url, WORKER_REDIS, JWT_SECRET) | {
                "HANDOFF_SMTP_HOST": "127.0.0.1",
                "HANDOFF_SMTP_PORT": str(smtp.port),
                "HANDOFF_SMTP_STARTTLS": "false",
                "HANDOFF_OUTBOUND_ALLOW": OUTBOUND_ALLOW,
            }
            engine = create_async_engine(database_url, pool_size=1)
            try:
                with stack(tmp_path, env, port) as processes:
                    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                        found = await variants(http, teams, slack)
                        for variant in found:
                            junior = variant.tenant["junior"]
                            for n in range(ESCALATIONS + 1):
                                session = await junior.new_session(
                                    f"VPN drops every few minutes ({n})", messages=MESSAGES
                                )
                                variant.sessions.append(session["id"])
                        # One escalation of each variant first, end to end, so no window holds a first connection.
                        for variant in found:
                            warm_up = Variant(variant.name, variant.tenant, variant.chat)
                            warm_up.sessions = [variant.sessions.pop()]
                            await run(warm_up, processes, engine, flush)
                        for variant in found:
                            await run(variant, processes, engine, flush)
            finally:
                await engine.dispose()
    finally:
        smtp.stop()
        await flush.aclose()

    # What the seniors and the channels see: each escalation emailed, and posted to Teams and Slack once where the
    # account has those destinations, never where it has none.
    for variant in found:
        for handoff_id in variant.handoffs:
            assert catcher.per_handoff.get(handoff_id, 0) >= 1, (variant.name, handoff_id)
            posts = 1 if variant.chat else 0
            assert sum(handoff_id.encode() in a.body for a in teams.arrivals if a.status == 202) == posts
            assert sum(handoff_id.encode() in a.body for a in slack.arrivals if a.status == 200) == posts

    baseline = found[0].cpu_ms

    def ratio(now: float, then: float) -> str:
        return f"{now / then:.2f}x" if then else "n/a"

    header = f"{'variant':<52} | {'api ms/esc':>10} | {'assessor ms/esc':>15} | {'notifier ms/esc':>15} | ratio"
    lines = [header, "-" * len(header)]
    for variant in found:
        ms = variant.cpu_ms
        overall = ratio(sum(ms.values()), sum(baseline.values()))
        each = ", ".join(f"{name} {ratio(ms[name], baseline[name])}" for name in ms)
        figures = f"{ms['api']:>10.1f} | {ms['assessor']:>15.1f} | {ms['notifier']:>15.1f}"
        lines.append(f"{variant.name:<52} | {figures} | {overall} ({each}; window {variant.took_s:.1f} s)")
        record(
            f"CPU ms per escalation, {variant.name} (api / assessor / notifier, {len(variant.handoffs)} escalations)",
            f"{ms['api']:.1f} / {ms['assessor']:.1f} / {ms['notifier']:.1f} ms ({overall} of the baseline)",
            f"baseline {baseline['api']:.1f} / {baseline['assessor']:.1f} / {baseline['notifier']:.1f} ms",
            "<= 1.3x the baseline",
        )
    print("\n" + "\n".join(lines))
