"""The soak's stack: its own PostgreSQL database and Redis server, the fault proxy in front of them and of SMTP,
the vendors' fakes, and the service as real processes (2 API replicas, 2 assessors, 2 notifiers) that the
faults may kill, stop and start again."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import IO, Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import uvicorn
from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel as SentinelClient
from redis.exceptions import RedisError

from shared.db.migrate import upgrade
from shared.jobs.base import JOB_QUEUES
from tests.support.ai_servers import FakeAIServer, answer, slow_answer, status
from tests.support.chat_servers import ChatReceiver, FakeSlackWebhook, FakeTeamsWorkflow
from tests.support.faultproxy import ProxyControl, fault_proxy
from tests.support.processes import HANDOFF, clean_env, spare_port
from tests.support.psa_servers import FakeConnectWise, FakeHaloPSA, FakeServer, FakeWebhookReceiver, Reply, Request
from tests.support.sentinel import MASTER_NAME, ReplicatedRedis
from tests.support.smtp import MailCatcher, SMTPServer
from tests.support.waiting import eventually

PG_ADMIN_DSN = os.environ.get("HANDOFF_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
JWT_SECRET = "soak-secret-" + "s" * 32
SECRET_KEY = "k" * 43 + "="
TICKETS = range(10_000, 90_000)
ASSESSMENT = {
    "summary": "The print spooler is stuck on a corrupt job.",
    "likely_causes": [{"cause": "A corrupt spool file", "confidence": 0.6}],
    "suggested_steps": ["Clear the spool folder", "Reinstall the printer driver"],
    "missing_info": ["The printer model"],
    "risk": "low",
}
# A killed worker's job is taken up again after its timeout plus 10 s, and the assessor's timeout is at least
# eight AI timeouts plus 30 s: both kept short, so the stack settles within a minute or two of the last fault.
# A job must still outlast a chat post's wait for its webhook's pace (up to 30 s), or its row's lease (the job's
# timeout) runs out under it.
AI_TIMEOUT_S = 2.5
JOB_TIMEOUT_S = 40
SENTINEL_TIMEOUT_S = 1.0
# The base of the links in emails and chat posts; a senior's pick-up goes to whichever replica answers.
PUBLIC_URL = "https://handoff.soak.test"


def now() -> float:
    return time.monotonic()


class Flaky:
    """A vendor that sometimes fails: 503 before doing anything, or 502 after doing it (the answer is lost)."""

    def __init__(self, rng: Random, *, before: float = 0.04, after: float = 0.04) -> None:
        self.rng = rng
        self.before = before
        self.after = after
        self.failed_before = 0
        self.failed_after = 0

    def verdict(self) -> str:
        roll = self.rng.random()
        if roll < self.before:
            self.failed_before += 1
            return "before"
        if roll < self.before + self.after:
            self.failed_after += 1
            return "after"
        return "ok"


class FlakyConnectWise(FakeConnectWise):
    def __init__(self, flaky: Flaky) -> None:
        super().__init__(set(TICKETS))
        self.flaky = flaky

    async def handle(self, request: Request) -> Reply:
        return await _flakily(self.flaky, request, super().handle)


class FlakyHaloPSA(FakeHaloPSA):
    def __init__(self, flaky: Flaky) -> None:
        super().__init__(set(TICKETS))
        self.flaky = flaky

    async def handle(self, request: Request) -> Reply:
        return await _flakily(self.flaky, request, super().handle)


class CountingWebhookReceiver(FakeWebhookReceiver):
    """Dedupes by Idempotency-Key like any receiver, and counts every signed delivery of each key."""

    def __init__(self, flaky: Flaky) -> None:
        super().__init__()
        self.flaky = flaky
        self.deliveries: Counter[str] = Counter()

    async def handle(self, request: Request) -> Reply:
        async def counted(request: Request) -> Reply:
            reply = await FakeWebhookReceiver.handle(self, request)
            if reply.status in (202, 409):
                self.deliveries[request.headers.get("idempotency-key", "")] += 1
            return reply

        return await _flakily(self.flaky, request, counted)


async def _flakily(flaky: Flaky, request: Request, handle: Any) -> Reply:
    if request.method == "POST":
        verdict = flaky.verdict()
        if verdict == "before":
            return Reply(503, {"error": "try again"})
        if verdict == "after":
            await handle(request)
            return Reply(502, {"error": "bad gateway"})
    reply: Reply = await handle(request)
    return reply


class MoodyLLM(FakeAIServer):
    """An OpenAI-wire model that mostly answers at once, sometimes slowly, sometimes with a 500."""

    def __init__(self, rng: Random, port: int) -> None:
        super().__init__("openai", port=port)
        self.rng = rng
        self.moods: Counter[str] = Counter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            roll = self.rng.random()
            if roll < 0.15:
                self.moods["500"] += 1
                self.script.append(status(500))
            elif roll < 0.30:
                self.moods["slow"] += 1
                self.script.append(slow_answer(json.dumps(ASSESSMENT), self.rng.uniform(0.5, 2.0)))
            else:
                self.moods["answer"] += 1
                self.script.append(answer(json.dumps(ASSESSMENT)))
        await super().__call__(scope, receive, send)


class BusySlack(FakeSlackWebhook):
    """A Slack incoming webhook that now and then answers 429 with Retry-After, as Slack does past one post a second."""

    def __init__(self, rng: Random) -> None:
        super().__init__()
        self.rng = rng

    def answer(self, request: Request) -> Reply:
        if self.rng.random() < 0.1:
            return Reply(429, b"rate_limited", {"Retry-After": "1"})
        return super().answer(request)


@dataclass
class Receivers:
    smtp: SMTPServer
    connectwise: FlakyConnectWise
    halopsa: FlakyHaloPSA
    webhook: CountingWebhookReceiver
    llm: MoodyLLM
    rng: Random
    chat: list[ChatReceiver] = field(default_factory=list)  # one per chat destination, made by the load

    @property
    def catcher(self) -> MailCatcher:
        return self.smtp.catcher

    async def chat_destination(self, kind: str) -> ChatReceiver:
        """A Teams Workflows webhook (answers 202) or a Slack incoming webhook (200 `ok`, sometimes 429) of its own."""
        receiver: ChatReceiver = FakeTeamsWorkflow() if kind == "teams" else BusySlack(self.rng)
        await receiver.start()
        self.chat.append(receiver)
        return receiver


@asynccontextmanager
async def receivers(rng: Random) -> AsyncIterator[Receivers]:
    """SMTP, two PSA vendors, a webhook receiver and the model, all on loopback."""
    smtp = SMTPServer(MailCatcher())
    flaky = Flaky(rng)
    fakes: list[FakeServer] = [FlakyConnectWise(flaky), FlakyHaloPSA(flaky), CountingWebhookReceiver(flaky)]
    llm = MoodyLLM(rng, spare_port())
    found: Receivers | None = None
    server = uvicorn.Server(uvicorn.Config(llm, host="127.0.0.1", port=llm.port, log_level="warning"))
    server.config.timeout_graceful_shutdown = 1
    smtp.start()
    task = asyncio.create_task(server.serve())
    try:
        for fake in fakes:
            await fake.start()
        await eventually(lambda: server.started or task.done(), 30, "the fake LLM to start")
        if task.done():
            task.result()  # it failed to start: say why
        connectwise, halopsa, webhook = fakes
        assert isinstance(connectwise, FlakyConnectWise)
        assert isinstance(halopsa, FlakyHaloPSA)
        assert isinstance(webhook, CountingWebhookReceiver)
        found = Receivers(smtp, connectwise, halopsa, webhook, llm, rng)
        yield found
    finally:
        server.should_exit = True
        for fake in [*fakes, *(found.chat if found is not None else [])]:
            await fake.stop()
        await task
        smtp.stop()


class Service:
    """One `handoff` process that the faults may kill, stop and start again; its log survives restarts."""

    def __init__(self, name: str, kind: str, env: Mapping[str, str], folder: Path, port: int | None = None) -> None:
        self.name = name
        self.kind = kind
        self.env = dict(env)
        self.port = port
        self.log_path = folder / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.starts = 0
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self._log is None:
            self._log = self.log_path.open("ab")
        args = [HANDOFF, self.kind, *(["--port", str(self.port)] if self.port else [])]
        self.process = subprocess.Popen(args, env=clean_env(self.env), stdout=self._log, stderr=subprocess.STDOUT)
        self.paused = False
        self.starts += 1

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None:
            self.signal(signal.SIGKILL)
            self.process.wait()
        self.paused = False

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM (after SIGCONT, so a stopped process can hear it), then SIGKILL after `timeout` seconds."""
        if self.process is None:
            return
        self.resume()
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def healthy(self, http: httpx.AsyncClient, timeout: float) -> None:
        """Until an API replica answers /healthz (a worker has nothing to ask)."""
        deadline = now() + timeout
        while self.port is not None:
            if not self.running:
                raise RuntimeError(f"{self.name} exited with {self.process and self.process.returncode}")
            with suppress(httpx.TransportError):
                if (await http.get(f"{self.url}/healthz", timeout=2)).status_code == 200:
                    return
            if now() > deadline:
                raise TimeoutError(f"{self.name} did not answer /healthz within {timeout} s")
            await asyncio.sleep(0.1)  # poll interval: until /healthz answers, the process exits, or the deadline


class RedisServer:
    """The soak's own redis-server, persisting to an append-only file as deployed: a restart loses nothing."""

    def __init__(self, folder: Path) -> None:
        self.port = spare_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        # `always` writes and syncs the file before any reply: a SIGKILLed server keeps every write it acknowledged.
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.folder)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        self.starts += 1
        client = Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = now() + 30
        try:
            while True:
                with suppress(OSError, RedisError):
                    if await client.ping():
                        return
                if now() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                await asyncio.sleep(0.05)  # poll interval: until it answers, exits, or the deadline
        finally:
            await client.aclose()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@asynccontextmanager
async def database() -> AsyncIterator[str]:
    """A new PostgreSQL database of the soak's own, migrated; dropped afterwards. Yields its name."""
    name = f"handoff_soak_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = dsn_of(name).replace("postgresql://", "postgresql+asyncpg://", 1)
        with ThreadPoolExecutor(1) as pool:
            await asyncio.get_running_loop().run_in_executor(pool, upgrade, url)
        yield name
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def dsn_of(database_name: str, port: int | None = None) -> str:
    """The admin DSN pointed at `database_name` (and at `port` instead of the server's, e.g. the proxy's)."""
    url = urlsplit(PG_ADMIN_DSN)
    netloc = url.netloc if port is None else f"{url.netloc.rsplit(':', 1)[0]}:{port}"
    return url._replace(netloc=netloc, path=f"/{database_name}").geturl()


@dataclass
class Stack:
    folder: Path
    database: str
    redis: RedisServer | None  # the one server, restarted by a fault; None with Sentinel
    replicated: ReplicatedRedis | None  # a master, its replicas and sentinels; the master killed by a fault
    proxy: ProxyControl
    receivers: Receivers
    apis: list[Service]
    workers: list[Service]
    env: dict[str, str]
    http: httpx.AsyncClient
    redis_client: Redis

    @property
    def services(self) -> list[Service]:
        return [*self.apis, *self.workers]

    @property
    def database_dsn(self) -> str:
        return dsn_of(self.database)

    async def workers_reported(self, timeout: float) -> None:
        """Until a worker of each kind has written its queue's health-check key."""
        keys = [f"{JOB_QUEUES[job]}:health-check" for job in ("assess", "notify")]
        deadline = now() + timeout
        while int(await self.redis_client.exists(*keys)) < len(keys):
            for worker in self.workers:
                if not worker.running:
                    raise RuntimeError(f"{worker.name} exited; see {worker.log_path}")
            if now() > deadline:
                raise TimeoutError(f"the workers did not report in within {timeout} s")
            await asyncio.sleep(0.2)  # poll interval: until they report, one exits, or the deadline


def service_env(database: str, ports: Mapping[str, int], receivers: Receivers) -> dict[str, str]:
    """Every process's settings: database, Redis and SMTP through the fault proxy; short timeouts; small pools."""
    pg = dsn_of(database, ports["pg"]).replace("postgresql://", "postgresql+asyncpg://", 1)
    return {
        "HANDOFF_DATABASE_URL": pg,
        "HANDOFF_REDIS_URL": f"redis://127.0.0.1:{ports.get('redis')}/0",
        "HANDOFF_JWT_SECRET": JWT_SECRET,
        "HANDOFF_SECRET_KEY": SECRET_KEY,
        "HANDOFF_SMTP_HOST": "127.0.0.1",
        "HANDOFF_SMTP_PORT": str(ports["smtp"]),
        "HANDOFF_SMTP_STARTTLS": "false",
        "HANDOFF_SMTP_FROM": "handoff@soak.test",
        "HANDOFF_PUBLIC_URL": PUBLIC_URL,
        "HANDOFF_AI_PROVIDER": "openai",
        "HANDOFF_AI_BASE_URL": receivers.llm.base_url,
        "HANDOFF_AI_API_KEY": "soak-key-for-the-fake-model",
        "HANDOFF_AI_MODEL": "soak-model",
        "HANDOFF_AI_TIMEOUT_S": str(AI_TIMEOUT_S),
        "HANDOFF_JOB_TIMEOUT_S": str(JOB_TIMEOUT_S),
        "HANDOFF_SWEEP_INTERVAL_S": "2",
        "HANDOFF_OUTBOUND_ALLOW": "127.0.0.1",
        # Six processes share a PostgreSQL server that other work uses too.
        "HANDOFF_DB_POOL_SIZE": "2",
        "HANDOFF_DB_MAX_OVERFLOW": "2",
        "HANDOFF_SSE_HEARTBEAT_S": "5",
        "HANDOFF_RATE_LIMIT_PER_MIN": "1000000",
        "HANDOFF_ESCALATIONS_PER_HOUR": "1000000",
        "HANDOFF_LOG_LEVEL": "INFO",
    }


@asynccontextmanager
async def soak_stack(folder: Path, rng: Random, *, sentinel: bool = False) -> AsyncIterator[Stack]:
    """Everything started and ready; on exit, everything stopped and the database dropped.

    With `sentinel`, Redis is a master, two replicas and three sentinels instead of one server behind the proxy:
    every process finds the master through the sentinels, and a publish waits for one replica (`WAIT`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as exits:
        name = await exits.enter_async_context(database())
        found = await exits.enter_async_context(receivers(rng))
        upstream = {"pg": urlsplit(PG_ADMIN_DSN).port or 5432, "smtp": found.smtp.port}
        own_redis: RedisServer | None = None
        group: ReplicatedRedis | None = None
        if sentinel:
            (folder / "redis").mkdir(exist_ok=True)
            group = ReplicatedRedis(folder / "redis", replicas=2, sentinels=3)
            exits.callback(group.stop)
            await asyncio.to_thread(group.start)
            sentinels = [("127.0.0.1", s.port) for s in group.sentinels]
            manager = SentinelClient(sentinels, socket_timeout=SENTINEL_TIMEOUT_S)  # type: ignore[no-untyped-call]
            client = manager.master_for(MASTER_NAME, socket_timeout=10)
        else:
            own_redis = RedisServer(folder)
            await own_redis.start()
            exits.callback(own_redis.kill)
            upstream["redis"] = own_redis.port
            client = Redis.from_url(own_redis.url, socket_timeout=10)
        exits.push_async_callback(client.aclose)
        proxy, ports = await exits.enter_async_context(fault_proxy(upstream, folder / "faultproxy.log"))
        env = service_env(name, ports, found)
        if group is not None:
            env |= group.sentinel_env() | {"HANDOFF_REDIS_MIN_REPLICAS": "1"}
        apis = [Service(f"api-{n}", "api", env, folder, spare_port()) for n in (1, 2)]
        workers = [Service(f"{kind}-{n}", kind, env, folder) for kind in ("assessor", "notifier") for n in (1, 2)]
        # A connection per request: a kept-alive one may meet uvicorn closing it for idleness at the very moment a
        # request goes out on it, and that lost request would be nobody's fault but the client's.
        fresh = httpx.Limits(max_keepalive_connections=0)
        http = await exits.enter_async_context(httpx.AsyncClient(timeout=30, limits=fresh))
        stack = Stack(folder, name, own_redis, group, proxy, found, apis, workers, env, http, client)
        exits.callback(_stop_all, stack)
        for service in stack.services:
            service.start()
        for api in apis:
            await api.healthy(http, timeout=120)
        await stack.workers_reported(timeout=120)
        yield stack


def _stop_all(stack: Stack) -> None:
    with ThreadPoolExecutor(len(stack.services)) as pool:
        for service in stack.services:
            pool.submit(service.stop)
