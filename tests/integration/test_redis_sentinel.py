"""Redis with replicas: Sentinel moves every process to a new master, and `WAIT` keeps what was acknowledged.

Real processes on loopback: a Redis master, its replicas and three sentinels (tests/support/sentinel.py), two
`handoff api` replicas, an assessor and a notifier on a fresh PostgreSQL database, and an SMTP server.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio

from shared.bus.base import BusUnavailable, parse_id, stream_key
from shared.bus.redis import RedisBus
from shared.jobs.arq_observed import health_key
from shared.ratelimit import RedisRateLimiter
from shared.redis_master import RedisMaster
from tests.bench.report import Row, keep_row
from tests.conftest import JWT_SECRET, fresh_pg_database
from tests.support.processes import (
    HANDOFF,
    api_env,
    clean_env,
    run_handoff,
    running,
    spare_port,
    stop,
    wait_healthy,
)
from tests.support.sentinel import MASTER_NAME, ReplicatedRedis, Server, replicated_redis
from tests.support.smtp import SMTPServer
from tests.support.sse import Frame, SSEClient
from tests.support.tenants import Tenant, TenantFactory
from tests.support.waiting import eventually

# The events each escalation of this team makes: created, step 0 paged, assessed.
EVENTS_PER_ESCALATION = ("handoff_created", "handoff_paged", "handoff_assessment_ready")
SENIORS = ("sam", "riley")
PASSWORD = "redis-pass-5e4b1c9d"
# Looks at a node the test makes before one counts as failed: see `stream_of`.
ATTEMPTS = 3


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def stream_of(node: Server, tenant: Tenant) -> list[tuple[str, str, str]]:
    """(id, type, handoff id) of every event the account's stream holds on `node`.

    The test's own look at the node rides out what the service's clients ride out: a Sentinel that reconfigures a
    node (promotes it, or points it at another master) ends its clients' connections (`CLIENT KILL TYPE normal`),
    and one of them may be this look, even as it connects. It asks again on a new connection, a few times."""
    for attempt in range(ATTEMPTS):
        client = redis.asyncio.Redis(host="127.0.0.1", port=node.port, password=node.password)
        try:
            entries = await client.xrange(stream_key(str(tenant.account_id)))
            break
        except redis.ConnectionError:
            if attempt == ATTEMPTS - 1:
                raise
        finally:
            await client.aclose()
    return [(i.decode(), f[b"type"].decode(), json.loads(f[b"data"])["handoff_id"]) for i, f in entries]


class Follower:
    """A dashboard on the stream: reads frames until told to stop, and may drop its connection and resume."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.frames: list[Frame] = []
        self.client: SSEClient | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self, port: int, last_event_id: str | None = None, timeout: float = 20) -> None:
        """Connect, retrying a 503 (the bus may still be moving to its new master), and read in the background."""
        token = self.tenant["sam"].token
        deadline = time.monotonic() + timeout
        while True:
            client = await SSEClient.connect(port, token, last_event_id=last_event_id)
            if client.status == 200:
                break
            await client.close()
            assert client.status == 503, client.status
            assert time.monotonic() < deadline, "the stream stayed unavailable"
            await asyncio.sleep(0.2)  # poll interval: the stream answers 503 until the bus has its new master
        ready = await client.next_frame()
        assert ready.event == "ready", ready
        self.client = client
        self.task = asyncio.create_task(self._read(client))

    async def _read(self, client: SSEClient) -> None:
        while True:
            frame = await client.next_frame(timeout=120)
            assert frame.event not in ("resync", None), f"the stream asked for a resync: {frame}"
            self.frames.append(frame)

    async def drop(self) -> str | None:
        """Close the connection as a browser losing it would; the id to resume from."""
        assert self.task is not None
        assert self.client is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.client.close()
        return self.frames[-1].id if self.frames else None

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.client is not None:
            await self.client.close()

    def seen(self) -> list[tuple[str, str, str]]:
        if self.task is not None and self.task.done() and not self.task.cancelled():
            self.task.result()  # the reader's own failure, e.g. a resync
        return [(f.id or "", f.event or "", f.json["handoff_id"]) for f in self.frames]


@contextmanager
def launch(args: list[str], workdir: Path, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """Start `handoff <args>` with a log of its own, without waiting for it; SIGTERM it on the way out."""
    log_path = workdir / f"handoff-{'-'.join(args)}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [HANDOFF, *args], cwd=workdir, env=clean_env(env), stdout=log, stderr=subprocess.STDOUT, text=True
        )
        try:
            yield process, log_path
        finally:
            stop(process, timeout=15)


@pytest.fixture
async def sentinel_stack(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    smtp = SMTPServer()
    smtp.start()
    try:
        with (
            fresh_pg_database() as database_url,
            replicated_redis(tmp_path, replicas=2, sentinels=3, password=PASSWORD) as group,
            ExitStack() as exits,
        ):
            env = {
                **api_env(database_url, "", JWT_SECRET),
                **group.sentinel_env(),
                "HANDOFF_REDIS_MIN_REPLICAS": "1",
                "HANDOFF_SMTP_HOST": "127.0.0.1",
                "HANDOFF_SMTP_PORT": str(smtp.port),
                "HANDOFF_SMTP_STARTTLS": "false",
                "HANDOFF_JOB_TIMEOUT_S": "10",
            }
            ports = [spare_port(), spare_port()]
            commands = [["api", "--port", str(port)] for port in ports] + [["assessor"], ["notifier"]]
            launched = [exits.enter_context(launch(command, tmp_path, env)) for command in commands]
            for port, (process, _) in zip(ports, launched, strict=False):  # all four start at once
                wait_healthy(f"http://127.0.0.1:{port}", process, timeout=90)  # a loaded machine starts them slowly
            logs = [log for _, log in launched]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30) as http:
                yield {
                    "group": group,
                    "ports": ports,
                    "smtp": smtp,
                    "db": database_url,
                    "http": http,
                    "logs": logs,
                    "env": env,
                    "tmp": tmp_path,
                }
    finally:
        smtp.stop()


async def test_a_failover_under_load_loses_no_escalation_and_repeats_none(
    sentinel_stack: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    group: ReplicatedRedis = sentinel_stack["group"]
    env: dict[str, str] = sentinel_stack["env"]
    tmp: Path = sentinel_stack["tmp"]
    ports: list[int] = sentinel_stack["ports"]
    smtp: SMTPServer = sentinel_stack["smtp"]
    tenant = await TenantFactory(sentinel_stack["http"], JWT_SECRET).create(
        junior="engineer", sam="engineer", riley="admin"
    )
    old = group.master
    health = [health_key("assess"), health_key("notify")]
    await eventually(lambda: old.client.exists(*health) == len(health), 60, "both workers to report in")

    staying, resuming = Follower(tenant), Follower(tenant)
    await staying.open(ports[0])
    await resuming.open(ports[1])

    created: list[str] = []
    stop = asyncio.Event()

    async def escalate_through(port: int) -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            junior = replace(tenant["junior"], http=http)
            n = 0
            while not stop.is_set():
                session = await junior.new_session(f"Failover ticket {port}-{n}")
                created.append((await junior.escalate(session["id"]))["id"])  # a 201, whatever Redis is doing
                n += 1
                await asyncio.sleep(0.1)  # pace: the load, a few escalations a second per replica

    producers = [asyncio.create_task(escalate_through(port)) for port in ports]
    await eventually(lambda: len(created) >= 10, 30, "escalations before the failover")

    resume_from = await resuming.drop()  # this dashboard loses its connection with the master
    killed_at_ms = time.time() * 1000
    old.kill()
    before = len(created)
    asked_at = time.monotonic()
    new: Server = await eventually(lambda: group.promoted(old), 30, "the sentinels to promote a replica")
    failover_s = time.monotonic() - asked_at
    during = len(created) - before

    async def announced_through_the_new_master() -> bool:
        stream = await stream_of(new, tenant)
        return any(parse_id(i)[0] > killed_at_ms for i, kind, _ in stream if kind == "handoff_created")

    await eventually(announced_through_the_new_master, 30, "an escalation announced through the new master")
    await resuming.open(ports[0], last_event_id=resume_from)  # the other replica, on the new master
    after_from = len(created)
    await eventually(lambda: len(created) >= after_from + 10, 30, "escalations after the failover")
    stop.set()
    await asyncio.gather(*producers)

    progress: dict[str, Any] = {}

    async def settled() -> bool:
        stream = await stream_of(new, tenant)
        progress.update(
            escalations=len(created),
            events=dict(Counter(kind for _, kind, _ in stream)),
            frames={"stayed": len(staying.seen()), "resumed": len(resuming.seen()), "stream": len(stream)},
            emails=f"{len(smtp.catcher.received)} of {len(created) * len(SENIORS)}",
        )
        return (
            Counter(kind for _, kind, _ in stream) == Counter({k: len(created) for k in EVENTS_PER_ESCALATION})
            and len(staying.seen()) >= len(stream)
            and len(resuming.seen()) >= len(stream)
            and len(smtp.catcher.received) >= len(created) * len(SENIORS)
        )

    # Patient: on a loaded machine the assessor and the notifier work through the ~50 escalations for a while.
    try:
        await eventually(settled, 120, "every event, frame and email")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last seen: {progress}") from exc
    for follower in (staying, resuming):
        await follower.close()
    # The probes follow the new master too: readiness on both replicas, the workers' container health checks.
    for port in ports:
        assert (await sentinel_stack["http"].get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
    checks = await asyncio.gather(
        *(asyncio.to_thread(run_handoff, kind, "--check", cwd=tmp, env=env) for kind in ("assessor", "notifier"))
    )
    assert [c.returncode for c in checks] == [0, 0], [c.stderr[-500:] for c in checks]
    stream = await stream_of(new, tenant)
    connection = await asyncpg.connect(asyncpg_dsn(sentinel_stack["db"]))
    try:
        await eventually(
            lambda: connection.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"),
            30,
            "every outbox row published",
        )
        late_events = await connection.fetchval("SELECT count(*) FROM outbox WHERE kind = 'event' AND attempts > 0")
        republished = await connection.fetch("SELECT stream_id FROM outbox WHERE stream_id IS NOT NULL")
        sends = await connection.fetch(
            "SELECT status, count(*) FROM deliveries WHERE channel = 'email' GROUP BY status ORDER BY status"
        )
    finally:
        await connection.close()

    # Every escalation announced exactly once, in order of ids, and every dashboard saw each event once.
    assert sorted(h for _, kind, h in stream if kind == "handoff_created") == sorted(created)
    assert len(set((kind, h) for _, kind, h in stream)) == len(stream)
    ids = [parse_id(i) for i, _, _ in stream]
    assert ids == sorted(ids)
    assert staying.seen() == stream
    assert resuming.seen() == stream, "the resumed dashboard missed or repeated an event"
    # Every republished event came back under the id it first had.
    assert {r["stream_id"] for r in republished} <= {i for i, _, _ in stream}
    # Assessed once each, and one email per senior per escalation.
    per_message = Counter(str(r.message["Message-ID"]) for r in smtp.catcher.received)
    paged = Counter((r.to.split("-")[0], str(r.message["X-Handoff-Id"])) for r in smtp.catcher.received)
    assert set(paged) == {(senior, h) for senior in SENIORS for h in created}
    assert len(per_message) == len(created) * len(SENIORS)
    assert [tuple(row) for row in sends] == [("sent", len(created) * len(SENIORS))]
    # What an operator sees: each process logged where the master went, and nowhere the password.
    moved = re.compile(rf"redis: master '{MASTER_NAME}' moved from {old.address} to {new.address}")
    for log in sentinel_stack["logs"]:
        assert moved.search(log.read_text()), f"{log.name} did not log the new master"
        assert PASSWORD not in log.read_text()

    first_new = min(
        parse_id(i)[0] for i, kind, _ in stream if kind == "handoff_created" and parse_id(i)[0] > killed_at_ms
    )
    print(
        f"\nSentinel failover under load: {len(created)} escalations ({before} before the SIGKILL, {during} during "
        f"the {failover_s:.1f} s until the sentinels agreed on {new.address}, the rest after)\n"
        f"  SIGKILL of the master -> first escalation announced through the new master: "
        f"{first_new - killed_at_ms:.0f} ms\n"
        f"  events re-published after the failover: {len(republished)} (each under its first id); "
        f"events published late after failed tries: {late_events}\n"
        f"  emails: {sum(per_message.values())} for {len(per_message)} Message-IDs "
        f"(resent copies: {sum(per_message.values()) - len(per_message)}); "
        f"SSE frames: {len(staying.frames)} on the dashboard that stayed, "
        f"{len(resuming.frames)} on the one that resumed"
    )
    # The same figures in the table `make test` ends with.
    resent = sum(per_message.values()) - len(per_message)
    for row in (
        Row(
            f"Sentinel failover under load, {len(created)} escalations: SIGKILL of the master -> first escalation "
            "announced through the new master",
            f"{first_new - killed_at_ms:.0f} ms (sentinels agreed after {failover_s:.1f} s)",
            "down-after 1 s, then the sentinels' vote",
            "every escalation announced, assessed and emailed once",
        ),
        Row(
            "Sentinel failover under load: events re-published after it; resent email copies",
            f"{len(republished)} re-published (each under its first id), {late_events} late; "
            f"{resent} resent of {sum(per_message.values())} emails",
            f"{len(staying.frames)} SSE frames on the dashboard that stayed, {len(resuming.frames)} on the one that "
            "resumed",
            "none lost, none twice on a dashboard",
        ),
    ):
        keep_row(request.node, row)


async def test_with_min_replicas_an_event_waits_for_a_paused_replica_and_goes_out_once_it_answers(
    tmp_path: Path,
) -> None:
    with fresh_pg_database() as database_url, replicated_redis(tmp_path, replicas=1) as group:
        env = {**api_env(database_url, group.url(), JWT_SECRET), "HANDOFF_REDIS_MIN_REPLICAS": "1"}
        port = spare_port()
        with running(["api"], cwd=tmp_path, env=env, port=port):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                tenant = await TenantFactory(http, JWT_SECRET).create(junior="engineer", sam="engineer")
                junior = tenant["junior"]
                follower = Follower(tenant)
                await follower.open(port)
                first = await junior.escalate((await junior.new_session("Replicated at once"))["id"])
                await eventually(lambda: first["id"] in {h for _, _, h in follower.seen()}, 10, "the first escalation")

                group.replicas[0].pause()
                try:
                    session = await junior.new_session("Written while the replica is paused")
                    answer = await junior.post(
                        f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "escalate"}
                    )
                    assert answer.status_code == 201, answer.text
                    held = answer.json()["id"]
                    connection = await asyncpg.connect(asyncpg_dsn(database_url))
                    try:

                        async def tried() -> asyncpg.Record | None:
                            row = await connection.fetchrow(
                                "SELECT attempts, published_at, stream_id, last_error FROM outbox "
                                "WHERE topic = 'handoff_created' AND payload->>'handoff_id' = $1",
                                held,
                            )
                            return row if row is not None and row["attempts"] >= 1 else None

                        await eventually(tried, 20, "the relay to try the event")
                        row = await tried()
                    finally:
                        await connection.close()
                    assert row is not None
                    assert row["published_at"] is None
                    assert row["last_error"] == (
                        f"0 of 1 Redis replicas confirmed event {row['stream_id']} within 1000 ms"
                    )
                    assert held not in {h for _, _, h in follower.seen()}  # no dashboard was told of it yet
                    metrics = (await http.get("/metrics")).text
                    assert re.search(r'^handoff_outbox_unreplicated_total\{kind="event"\} [1-9]', metrics, re.M)
                    paused_for = time.monotonic()
                finally:
                    group.replicas[0].resume()

                resumed_at = time.monotonic()
                await eventually(
                    lambda: ("handoff_created", held) in {(k, h) for _, k, h in follower.seen()},
                    30,
                    "the event once the replica answers",
                )
                waited = time.monotonic() - resumed_at
                await follower.close()
                stream = await stream_of(group.master, tenant)
    created = [i for i, kind, h in stream if kind == "handoff_created" and h == held]
    assert created == [row["stream_id"]], "published once, under the id its first try got"
    print(
        f"\nMIN_REPLICAS=1 with the replica paused: the escalation answered {answer.status_code}, its event waited "
        f"(tries so far {row['attempts']}); {waited:.1f} s after SIGCONT it reached the dashboard "
        f"({time.monotonic() - paused_for:.1f} s after the first unconfirmed try was seen)"
    )


async def test_an_event_only_the_lost_master_held_comes_back_under_its_id(tmp_path: Path) -> None:
    """The replicas never got the event: the new master gets it from the outbox again, with the id a dashboard saw."""
    with (
        fresh_pg_database() as database_url,
        replicated_redis(tmp_path, replicas=2, sentinels=3) as group,
        launch(
            ["api", "--port", str(port := spare_port())],
            tmp_path,
            {
                **api_env(database_url, "", JWT_SECRET),
                **group.sentinel_env(),
                "HANDOFF_REDIS_MIN_REPLICAS": "1",
            },
        ) as (api, _),
    ):
        wait_healthy(f"http://127.0.0.1:{port}", api, timeout=90)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            tenant = await TenantFactory(http, JWT_SECRET).create(junior="engineer", sam="engineer")
            junior = tenant["junior"]
            staying = Follower(tenant)
            await staying.open(port)
            first = await junior.escalate((await junior.new_session("Before the replicas stall"))["id"])
            await eventually(lambda: len(staying.frames) == 2, 15, "the first escalation's two events")

            old = group.master
            for replica in group.replicas:
                replica.pause()
            # Cut the replication links too: a paused replica would still find the event in its socket buffer.
            old.client.execute_command("CLIENT", "KILL", "TYPE", "replica")
            lost = await junior.escalate((await junior.new_session("Only the master will hold this"))["id"])
            connection = await asyncpg.connect(asyncpg_dsn(database_url))
            try:
                query = "SELECT stream_id FROM outbox WHERE topic = 'handoff_created' AND payload->>'handoff_id' = $1"
                await eventually(lambda: connection.fetchval(query, lost["id"]), 20, "an unconfirmed publish")
                unconfirmed = await connection.fetchval(query, lost["id"])
                # A dashboard opening now reads the master's stream, unconfirmed event included.
                early = Follower(tenant)
                await early.open(port, last_event_id=staying.frames[-1].id)
                await eventually(lambda: len(early.frames) == 1, 15, "the unconfirmed event on a new stream")
                assert early.seen() == [(unconfirmed, "handoff_created", lost["id"])]
                resume_from = await early.drop()

                old.kill()
                for replica in group.replicas:
                    replica.resume()
                new: Server | None = None

                def promoted() -> Server | None:
                    nonlocal new
                    new = group.promoted(old)
                    return new

                await eventually(promoted, 30, "the sentinels to promote a replica")
                assert new is not None

                async def back() -> bool:
                    return any(i == unconfirmed for i, _, _ in await stream_of(new, tenant))

                await eventually(back, 30, "the event on the new master")
                await eventually(
                    lambda: connection.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"),
                    30,
                    "every outbox row published",
                )
            finally:
                await connection.close()
            await early.open(port, last_event_id=resume_from)
            after = await junior.escalate((await junior.new_session("After the failover"))["id"])
            await eventually(lambda: len(staying.frames) == 6, 15, "every event on the stream that stayed")
            await eventually(lambda: len(early.frames) == 4, 15, "the later events on the resumed stream")
            for follower in (staying, early):
                await follower.close()
            stream = await stream_of(new, tenant)

    handoffs = [first["id"], lost["id"], after["id"]]
    expected = [(kind, h) for h in handoffs for kind in ("handoff_created", "handoff_paged")]
    assert [(kind, h) for _, kind, h in stream] == expected
    assert stream[2][0] == unconfirmed  # the lost event, under the id its first publish got
    assert staying.seen() == stream
    assert early.seen() == stream[2:]  # the unconfirmed event once, then what followed it
    print(
        f"\nan event only the killed master held: published again on {new.address} as {unconfirmed}, "
        f"its id from the first try; each dashboard saw it once"
    )


async def test_a_master_demoted_behind_its_address_is_let_go_on_its_first_readonly(tmp_path: Path) -> None:
    """As a managed Redis fails over behind one name: the connections to the old node must not stay."""
    with replicated_redis(tmp_path, replicas=1) as group:
        old, other = group.master, group.replicas[0]
        master = RedisMaster(group.url(), client_name="handoff-demoted-test")
        pool = master.pool(max_connections=2)
        bus = RedisBus(pool, master=master)
        account = str(uuid.uuid4())
        try:
            await bus.publish(account, "handoff_created", b"{}", dedupe_key="outbox:1")
            limited = await RedisRateLimiter(pool).hit("user", 10)
            assert limited is None
            holding = [c for c in old.client.client_list() if c["name"] == "handoff-demoted-test"]
            assert holding, "the pool holds a connection to the master"

            other.client.execute_command("REPLICAOF", "NO", "ONE")
            old.client.execute_command("REPLICAOF", "127.0.0.1", str(other.port))
            with pytest.raises(BusUnavailable, match=rf"127\.0\.0\.1:{old.port} is a read-only replica now"):
                await bus.publish(account, "handoff_paged", b"{}", dedupe_key="outbox:2")
            still = [c for c in old.client.client_list() if c["name"] == "handoff-demoted-test"]
            assert still == [], "a connection to the demoted node stayed in the pool"
        finally:
            await bus.close()
            await pool.aclose()
