"""The processes a benchmark runs: `handoff api` replicas, the lean stream holder, the Starlette floor."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil
import redis.asyncio

from tests.bench.rawhttp import RawConnection
from tests.conftest import JWT_SECRET, REDIS_URL
from tests.support.processes import api_env, running, spare_port, wait_healthy
from tests.support.tenants import mint_token

HERE = Path(__file__).parent
STREAM_PATH = "/api/v1/ai-sessions/escalations/stream"


@contextmanager
def replicas(pg_url: str, workdir: Path, count: int = 2, **extra: str) -> Iterator[list[tuple[int, int]]]:
    """`count` networked `handoff api` replicas on one database and Redis: (port, pid) each."""
    env = {**api_env(pg_url, REDIS_URL, JWT_SECRET), "HANDOFF_SSE_MAX_STREAMS_PER_USER": "20000", **extra}
    with ExitStack() as stack:
        found = []
        for _ in range(count):
            port = spare_port()
            process, _ = stack.enter_context(running(["api"], cwd=workdir, env=env, port=port))
            found.append((port, process.pid))
        yield found


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


async def redis_connections(name: str) -> int:
    """Connections Redis holds for clients that named themselves `name`."""
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        return sum(1 for c in await client.client_list() if c.get("name") == name)
    finally:
        await client.aclose()


class Account:
    """An account known only from its tokens (the directory trusts a user it has no row for)."""

    def __init__(self) -> None:
        self.id = uuid.uuid4()
        self.junior = mint_token(JWT_SECRET, uuid.uuid4(), self.id, "engineer", "Junior Engineer")
        self.senior = mint_token(JWT_SECRET, uuid.uuid4(), self.id, "engineer", "Senior Engineer")

    def senior_token(self, name: str) -> str:
        return mint_token(JWT_SECRET, uuid.uuid4(), self.id, "engineer", name)

    async def sessions(self, port: int, count: int, messages: int = 10) -> list[str]:
        """`count` active sessions of the junior's, made through the API with 8 connections."""
        body = {
            "title": "VPN drops every few minutes",
            "messages": [{"role": "engineer", "content": "Tunnel resets after rekey. " * 8}] * messages,
        }
        made: list[str] = []

        async def worker(n: int) -> None:
            conn = await RawConnection.open(port)
            try:
                for _ in range(n):
                    status, answer = await conn.request("POST", "/api/v1/ai-sessions", self.junior, body)
                    assert status == 201, answer
                    made.append(answer["id"])
            finally:
                await conn.close()

        await asyncio.gather(*(worker(count // 8 + (i < count % 8)) for i in range(8)))
        return made


class Holder:
    """The lean process holding K idle streams (tests/bench/holder.py)."""

    def __init__(self, port: int, tokens: list[str], count: int, workdir: Path) -> None:
        path = workdir / f"tokens-{uuid.uuid4().hex[:6]}"
        path.write_text("\n".join(tokens))
        self.count = count
        args = ["--port", str(port), "--tokens", str(path), "--count", str(count)]
        script = str(HERE / "holder.py")
        self.process = subprocess.Popen([sys.executable, script, *args], stdout=subprocess.PIPE, text=True)

    async def ready(self) -> None:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), timeout=300)
        assert line.strip() == f"ready {self.count}", f"the holder did not open its streams: {line!r}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()  # a failed run must not leave thousands of sockets open behind it


@contextmanager
def floor_server(account_id: uuid.UUID) -> Iterator[tuple[int, int]]:
    """The minimal uvicorn + Starlette SSE endpoint (tests/bench/floor_sse.py): (port, pid)."""
    port = spare_port()
    args = ["--port", str(port), "--redis-url", REDIS_URL, "--account", str(account_id)]
    process = subprocess.Popen([sys.executable, str(HERE / "floor_sse.py"), *args], text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)  # type: ignore[arg-type]
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)
