"""The composition root: builds the database, bus, job queue and outbox relay a process runs on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.asyncio import BlockingConnectionPool
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from shared.bus.base import Bus
from shared.bus.memory import InProcessBus
from shared.bus.redis import RedisBus
from shared.channels import channel_jobs
from shared.config import Settings
from shared.db.engine import create_engine
from shared.jobs.arq import ArqJobQueue
from shared.jobs.base import NOTIFY_QUEUE, JobQueue, register_job
from shared.jobs.memory import InProcessJobQueue
from shared.outbox.lag import OutboxLagSampler
from shared.outbox.relay import OutboxRelay
from shared.outbox.writer import PENDING_FLAG
from shared.pace import InProcessPace, Pace, RedisPace
from shared.ratelimit import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from shared.redis_master import RedisMaster

ReadinessProbe = Callable[[], Awaitable[bool]]


@dataclass
class Runtime:
    """Everything long-lived a process holds; started once, stopped once."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: Bus
    jobs: JobQueue
    relay: OutboxRelay
    rate_limiter: RateLimiter
    pace: Pace  # the per-destination pace of chat posts, shared by every process on the same Redis
    readiness_probes: dict[str, ReadinessProbe] = field(default_factory=dict)
    redis_pool: BlockingConnectionPool | None = None
    redis_master: RedisMaster | None = None  # how this process finds its Redis, for pools of their own (arq's)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    outbox_lag: OutboxLagSampler | None = None

    @classmethod
    def build(cls, settings: Settings, *, role: str = "api") -> Runtime:
        engine = create_engine(
            settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        # A session class of our own, so the commit hook below wakes this runtime's relay only.
        session_class: type[Session] = type("RuntimeSession", (Session,), {})
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)

        bus: Bus
        jobs: JobQueue
        limiter: RateLimiter
        pace: Pace
        pool = None
        master = RedisMaster.of(settings, role=role)
        if master is not None:
            master.announce(min_replicas=settings.redis_min_replicas)
            pool = master.pool(max_connections=settings.redis_pool_size, timeout=settings.redis_pool_timeout_s)
            replicas = settings.redis_min_replicas
            bus = RedisBus(pool, master=master, maxlen=settings.stream_maxlen, min_replicas=replicas)
            jobs = ArqJobQueue(pool, min_replicas=replicas)
            limiter = RedisRateLimiter(pool)
            pace = RedisPace(pool)
        else:
            bus = InProcessBus(maxlen=settings.stream_maxlen)
            jobs = InProcessJobQueue()
            limiter = InMemoryRateLimiter()
            pace = InProcessPace()
        for job in channel_jobs():  # every channel is sent by the notifier
            register_job(job, NOTIFY_QUEUE)
        relay = OutboxRelay(sessionmaker, bus, jobs)

        @event.listens_for(session_class, "after_commit")
        def _after_commit(session: Session) -> None:
            if session.info.pop(PENDING_FLAG, False):
                relay.wake()

        @event.listens_for(session_class, "after_rollback")
        def _after_rollback(session: Session) -> None:
            session.info.pop(PENDING_FLAG, None)

        runtime = cls(
            settings,
            engine,
            sessionmaker,
            bus,
            jobs,
            relay,
            limiter,
            pace,
            redis_pool=pool,
            redis_master=master,
            outbox_lag=OutboxLagSampler(sessionmaker),
        )
        runtime.readiness_probes["bus"] = bus.ping
        return runtime

    async def start(self) -> None:
        """Start the outbox relay (and the sampler of its lag); the pools connect lazily."""
        self.relay.start()
        if self.outbox_lag is not None:
            self.outbox_lag.start()

    async def stop(self) -> None:
        for close in reversed(self.closers):
            await close()
        await self.relay.stop()
        if self.outbox_lag is not None:
            await self.outbox_lag.stop()
        await self.jobs.close()
        await self.bus.close()
        if self.redis_pool is not None:
            await self.redis_pool.aclose()
        await self.engine.dispose()
