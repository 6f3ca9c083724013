"""Fixtures every suite shares: real PostgreSQL, an embedded SQLite, API clients, tenants."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis
import redis.asyncio

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.db.migrate import MIGRATIONS, upgrade
from tests.bench.report import BenchTable
from tests.support.tenants import TenantFactory

# Fixtures that live beside the fakes they start, for any test to ask for.
pytest_plugins = ("tests.support.chat_servers",)

PG_ADMIN_DSN = os.environ.get("HANDOFF_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
# Each process running tests (a pytest-xdist worker, or pytest alone) takes a block of three Redis database
# indexes, emptied by the tests that use them: worker n starts at the base plus 3 n. A second checkout running
# its suite at the same time uses a Redis server of its own (HANDOFF_TEST_REDIS_PORT), or a base above this one's
# blocks (HANDOFF_TEST_REDIS_DB).
REDIS_DBS_PER_WORKER = 3
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
REDIS_DB = int(os.environ.get("HANDOFF_TEST_REDIS_DB", "3")) + REDIS_DBS_PER_WORKER * WORKER
# Or a Redis server of its own: HANDOFF_TEST_REDIS_PORT names its port on loopback.
REDIS_PORT = int(os.environ.get("HANDOFF_TEST_REDIS_PORT", "6379"))
REDIS_URL = f"redis://127.0.0.1:{REDIS_PORT}/{REDIS_DB}"


def redis_db_url(offset: int) -> str:
    """The n-th spare database index after the suite's own, for a test that flushes a database."""
    return f"redis://127.0.0.1:{REDIS_PORT}/{REDIS_DB + offset}"


JWT_SECRET = "test-secret-" + "x" * 32
# The fake vendors listen on loopback over http: the one target the tests' allow-list exempts.
OUTBOUND_ALLOW = "127.0.0.1"
STREAM_MAXLEN = 1000


def pytest_configure(config: pytest.Config) -> None:
    # Here rather than in tests/bench: under pytest-xdist the process printing the summary collects no tests.
    config.pluginmanager.register(BenchTable(), "bench-table")


# Under pytest-xdist (`make test`), tests are dealt out one by one to whichever worker is free, except these
# groups, each run on one worker in turn. "heavy": the benchmarks, so that no two print figures measured side by
# side, and the claim race with them, as each holds dozens of PostgreSQL connections and the server allows 100
# by default. "browser": one Chromium at a time, and each file starts its server and browser once. The others are
# one module each whose tests share a stack of processes (API, assessor, two notifiers) started once per module:
# dealt out one by one, each worker that got one of its tests would start a whole stack of its own.
XDIST_GROUPS = {
    "heavy": ("tests/bench/", "tests/integration/test_claim_race.py"),
    "browser": ("tests/e2e/test_dashboard",),
    "steps-workers": ("tests/e2e/test_escalation_steps_workers.py",),
    "chat-workers": ("tests/e2e/test_chat_workers.py",),
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path).relative_to(config.rootpath).as_posix()
        for group, prefixes in XDIST_GROUPS.items():
            if path.startswith(prefixes):
                item.add_marker(pytest.mark.xdist_group(group))


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)

    async def ping() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
        await connection.close()

    try:
        asyncio.run(ping())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.exit(f"PostgreSQL is not reachable at {PG_ADMIN_DSN} ({exc}); make test needs it running.", returncode=3)

    async def flush_redis() -> None:
        # The last index of this process's block must exist too: Redis has 16 databases unless told otherwise.
        last = redis.asyncio.Redis.from_url(redis_db_url(REDIS_DBS_PER_WORKER - 1), socket_connect_timeout=5)
        client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
        try:
            await last.ping()
            await client.flushdb()
        finally:
            await client.aclose()
            await last.aclose()

    if _is_xdist_controller(session.config):
        return  # the workers run the tests, each on its own block of databases
    try:
        asyncio.run(flush_redis())
    except redis.ResponseError as exc:
        pytest.exit(
            f"Redis at 127.0.0.1:{REDIS_PORT} has too few databases for this worker's block from {REDIS_DB} ({exc}); "
            "run fewer workers (-n) or start redis-server with more --databases.",
            returncode=3,
        )
    except (OSError, redis.RedisError) as exc:
        pytest.exit(f"Redis is not reachable at {REDIS_URL} ({exc}); make test needs it running.", returncode=3)


def _is_xdist_controller(config: pytest.Config) -> bool:
    """True in the process that hands tests out to pytest-xdist workers and runs none itself."""
    distributing = getattr(config.option, "dist", "no") != "no" and bool(getattr(config.option, "tx", None))
    return distributing and "PYTEST_XDIST_WORKER" not in os.environ


def _sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def _admin(sql: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    # A thread of its own: callers may be inside the test's running event loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


def _database_url(name: str) -> str:
    return _sqlalchemy_url(PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}")


# Migrated once per set of migrations, then copied by the server for each new database: a copy takes a fraction
# of the time the migrations take. Named after the migrations' contents, so a changed migration gets its own.
_MIGRATIONS_DIGEST = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(MIGRATIONS.rglob("*.py")))).hexdigest()
TEMPLATE_DATABASE = f"handoff_test_template_{_MIGRATIONS_DIGEST[:16]}"


@functools.cache
def _migrated_template() -> str:
    """The template database at the migrations' head, made by whichever test process gets here first."""

    async def make() -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            # Held while the template is made: the other processes wait, then find it there.
            await connection.execute("SELECT pg_advisory_lock(hashtext($1))", TEMPLATE_DATABASE)
            if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", TEMPLATE_DATABASE):
                return
            building = f"{TEMPLATE_DATABASE}_new"  # renamed once migrated: never copied half-made
            await connection.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{building}"')
            await asyncio.to_thread(upgrade, _database_url(building))
            await connection.execute(f'ALTER DATABASE "{building}" RENAME TO "{TEMPLATE_DATABASE}"')
        finally:
            await connection.close()  # the advisory lock goes with the session

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, make()).result()
    return TEMPLATE_DATABASE


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new PostgreSQL database at the migrations' head (a copy of the migrated template), dropped afterwards."""
    name = f"handoff_test_{os.getpid()}_{secrets.token_hex(3)}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_migrated_template()}"')
    try:
        yield _database_url(name)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A database of our own on the real server, migrated once for the whole run."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "handoff.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings_for(pg_url: str, sqlite_url: str) -> dict[str, Settings]:
    base = {
        "jwt_secret": JWT_SECRET,
        "secret_key": "k" * 43 + "=",
        "db_pool_size": 30,
        "stream_maxlen": STREAM_MAXLEN,
        # The suite makes far more changes per user than a person could; the limit has tests of its own.
        "rate_limit_per_min": 1_000_000,
        "escalations_per_hour": 1_000_000,
        "outbound_allow": OUTBOUND_ALLOW,
    }
    return {
        "sqlite": Settings.from_env({}, database_url=sqlite_url, **base),
        "postgresql": Settings.from_env({}, database_url=pg_url, redis_url=REDIS_URL, **base),
    }


@pytest.fixture(scope="session")
async def runtimes(settings_for: dict[str, Settings]) -> AsyncIterator[dict[str, Runtime]]:
    built = {name: Runtime.build(s) for name, s in settings_for.items()}
    for runtime in built.values():
        await runtime.start()
    yield built
    for runtime in built.values():
        await runtime.stop()


@pytest.fixture(scope="session")
def runtime(backend: str, runtimes: dict[str, Runtime]) -> Runtime:
    return runtimes[backend]


@pytest.fixture(scope="session")
async def client(backend: str, runtimes: dict[str, Runtime]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client wired to the API in-process (ASGI), on the backend under test."""
    runtime = runtimes[backend]
    app = create_app(runtime.settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


@pytest.fixture
def tenants(client: httpx.AsyncClient) -> TenantFactory:
    return TenantFactory(client, JWT_SECRET)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
