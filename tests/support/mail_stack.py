"""`handoff api` and `handoff assessor` on PostgreSQL and Redis, with an SMTP server on loopback that records
every message: the stack that tests of real `handoff notifier` processes start their notifiers against."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis.asyncio

from tests.conftest import JWT_SECRET, fresh_pg_database, redis_db_url
from tests.support.processes import api_env, running, spare_port, started
from tests.support.settled import quiet
from tests.support.smtp import MailCatcher, Received, SMTPServer
from tests.support.tenants import Actor, Tenant, TenantFactory
from tests.support.waiting import eventually

WORKER_REDIS = redis_db_url(2)


@dataclass
class MailStack:
    tenant: Tenant
    seniors: list[Actor]
    catcher: MailCatcher
    env: dict[str, str]
    cwd: Path
    database_url: str

    @property
    def junior(self) -> Actor:
        return self.tenant["junior"]

    def mail_to(self, senior: Actor) -> list[Received]:
        return [r for r in self.catcher.received if r.to.startswith(senior.name.split()[0].lower())]

    async def quiet(self, handoff_ids: Iterable[str] = (), *kinds: str, jobs: bool = True) -> bool:
        """Nothing left to send, and no timer (of these kinds) of these handoffs still to come: see `settled`."""
        return await quiet(self.database_url, self.env["HANDOFF_REDIS_URL"], handoff_ids, *kinds, jobs=jobs)


@asynccontextmanager
async def mail_stack(
    tmp_path: Path, catcher: MailCatcher, *, seniors: int, env: Mapping[str, str] | None = None
) -> AsyncIterator[MailStack]:
    """API and assessor running, a tenant of a junior and `seniors` seniors; `env` adds to the workers' settings."""
    flush = redis.asyncio.Redis.from_url(WORKER_REDIS)
    await flush.flushdb()
    await flush.aclose()
    smtp = SMTPServer(catcher)
    smtp.start()
    port = spare_port()
    try:
        with fresh_pg_database() as database_url:
            workers_env = api_env(database_url, WORKER_REDIS, JWT_SECRET) | {
                "HANDOFF_SMTP_HOST": "127.0.0.1",
                "HANDOFF_SMTP_PORT": str(smtp.port),
                "HANDOFF_SMTP_STARTTLS": "false",
                **(env or {}),
            }
            with (
                running(["api"], cwd=tmp_path, env=workers_env, port=port),
                started(["assessor"], cwd=tmp_path, env=workers_env),
            ):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                    factory = TenantFactory(http, JWT_SECRET)
                    tenant = await factory.create(junior="engineer")
                    people = [await factory.add_user(tenant, f"senior{i}", "engineer") for i in range(seniors)]
                    yield MailStack(tenant, people, catcher, workers_env, tmp_path, database_url)
    finally:
        smtp.stop()


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `condition` held; fails the test after `timeout` seconds."""
    started_at = time.monotonic()
    await eventually(condition, timeout, what)
    return time.monotonic() - started_at
