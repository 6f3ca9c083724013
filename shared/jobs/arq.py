"""Jobs on arq: the deterministic `_job_id` makes a re-sent job a no-op while arq remembers it.

What this relies on inside arq is fenced in `shared.jobs.arq_private`.

`serve` runs an arq worker that outlives Redis: arq's own worker ends on the first lost connection,
so each outage retires the worker and a new one starts, with a growing pause, once Redis answers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Worker
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import RedisError

from shared.jobs import arq_private
from shared.jobs.base import JOB_QUEUES, JobQueueUnavailable
from shared.jobs.codec import JOB_CODEC

log = logging.getLogger("handoff.jobs")
# On SIGTERM a worker finishes the jobs it is running for up to this long (compose allows 30 s).
JOB_COMPLETION_WAIT_S = 25
MAX_RECONNECT_DELAY_S = 5.0


def arq_client(pool: BlockingConnectionPool) -> ArqRedis:
    """arq's Redis client on `pool`, reading and writing jobs in our JSON format."""
    return ArqRedis(connection_pool=pool, **JOB_CODEC)


def arq_worker(**options: Any) -> Worker:
    """arq's Worker with `options`, reading and writing jobs in our JSON format."""
    return Worker(**options, **JOB_CODEC)


class ArqJobQueue:
    def __init__(self, pool: BlockingConnectionPool) -> None:
        self.redis = arq_client(pool)
        self._enqueue = self.redis.register_script(arq_private.ENQUEUE_SCRIPT)

    async def enqueue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        """Queue a job for arq's workers in one round trip; False when arq already holds that id."""
        call = arq_private.enqueue_script_call(self.redis, JOB_QUEUES[name], name, job_id, payload)
        try:
            queued = await self._enqueue(**call)
        except RedisError as exc:
            raise JobQueueUnavailable(f"could not enqueue {name}: {exc}") from exc
        return bool(queued)

    async def requeue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        queue = JOB_QUEUES[name]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.exists(arq_private.running_key(job_id))
                pipe.zscore(queue, job_id)
                running, score = await pipe.execute()
            if running or score is not None:
                return False
            # Neither queued nor running: what arq still keeps of it (a result, a lost job's record, its
            # try count) would only make enqueue_job refuse the id, or the new job start out of tries.
            await self.redis.delete(*arq_private.leftover_keys(job_id))
        except RedisError as exc:
            raise JobQueueUnavailable(f"could not requeue {name}: {exc}") from exc
        return await self.enqueue(name, job_id, payload)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except RedisError:
            return False

    async def close(self) -> None:
        await self.redis.aclose()


WorkerFactory = Callable[[ArqRedis], Worker]


async def serve(build: WorkerFactory, redis_settings: RedisSettings, *, role: str) -> None:
    """Run `build(pool)` workers until SIGTERM or SIGINT, through any number of Redis outages.

    `build` must make its Worker with `arq_worker`, `handle_signals=True` and `job_completion_wait`, so
    it reads our job format and a signal lets running jobs finish first.
    """
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    delay = 0.0
    while not stopping.is_set():
        # Ours while no worker is up; a new worker puts its own in place.
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        pool: ArqRedis | None = None
        worker: Worker | None = None
        try:
            pool = await create_pool(redis_settings, **JOB_CODEC)
            if stopping.is_set():
                continue
            worker = build(pool)
            if not arq_private.reads_our_format(worker):
                raise TypeError(f"{role}: build the Worker with arq_worker, or it reads jobs as pickles")
            arq_private.on_stop(worker, lambda _signal: stopping.set())
            if delay:
                log.info("%s: Redis is back; taking jobs again", role)
            delay = 0.0
            await worker.async_run()
        except asyncio.CancelledError:
            if not stopping.is_set():
                raise
        except (RedisError, OSError, TimeoutError) as exc:
            delay = min(MAX_RECONNECT_DELAY_S, delay * 2 or 0.5)
            log.warning("%s: lost Redis (%s: %s); reconnecting in %.1f s", role, type(exc).__name__, exc, delay)
        finally:
            if worker is not None:
                await arq_private.retire(worker)
            if pool is not None:
                with suppress(RedisError, OSError):
                    await pool.aclose()
        if not stopping.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
    log.info("%s: stopped", role)
