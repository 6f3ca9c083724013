"""Jobs on arq: the deterministic `_job_id` makes a re-sent job a no-op while arq remembers it.

What this relies on inside arq is fenced in `shared.jobs.arq_private`.

`serve` runs an arq worker that outlives Redis: arq's own worker ends on the first lost connection,
so each outage retires the worker and a new one starts, with a growing pause, once Redis answers. Each
new worker gets a new pool, which finds the master afresh: a Sentinel failover is such an outage.

With `min_replicas`, an enqueue counts only once `WAIT` says that many replicas hold the job.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from arq.connections import ArqRedis
from arq.worker import Worker
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import NoScriptError, RedisError

from shared.jobs import arq_private
from shared.jobs.base import JOB_QUEUES, JobNotReplicated, JobQueueUnavailable
from shared.jobs.codec import JOB_CODEC
from shared.redis_master import REPLICA_WAIT_MS, OneConnection

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
    def __init__(self, pool: BlockingConnectionPool, *, min_replicas: int = 0) -> None:
        self.pool = pool
        self.min_replicas = min_replicas
        self.redis = arq_client(pool)
        self._enqueue = self.redis.register_script(arq_private.ENQUEUE_SCRIPT)

    async def enqueue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        """Queue a job for arq's workers in one round trip; False when arq already holds that id."""
        call = arq_private.enqueue_script_call(self.redis, JOB_QUEUES[name], name, job_id, payload)
        try:
            if self.min_replicas:
                return await self._enqueue_replicated(name, call)
            queued = await self._enqueue(**call)
        except JobNotReplicated:
            raise
        except RedisError as exc:
            raise JobQueueUnavailable(f"could not enqueue {name}: {exc}") from exc
        return bool(queued)

    async def enqueue_many(self, jobs: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Every job in one round trip (the script loaded and the round trip sent again when the server lacks it: arq
        refuses an id it holds). With `min_replicas`, one by one, each confirmed as `enqueue` confirms it."""
        if self.min_replicas or len(jobs) < 2:
            for name, job_id, payload in jobs:
                await self.enqueue(name, job_id, payload)
            return
        calls = [arq_private.enqueue_script_call(self.redis, JOB_QUEUES[name], name, i, p) for name, i, p in jobs]
        try:
            try:
                await self._enqueue_pipelined(calls)
            except NoScriptError:
                await self.redis.script_load(arq_private.ENQUEUE_SCRIPT)
                await self._enqueue_pipelined(calls)
        except RedisError as exc:
            raise JobQueueUnavailable(f"could not enqueue {len(jobs)} jobs: {exc}") from exc

    async def _enqueue_pipelined(self, calls: list[dict[str, Any]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for call in calls:
                keys = call["keys"]
                pipe.execute_command("EVALSHA", self._enqueue.sha, len(keys), *keys, *call["args"])
            await pipe.execute()

    async def _enqueue_replicated(self, name: str, call: dict[str, Any]) -> bool:
        """The enqueue and `WAIT` in one round trip on one connection."""
        keys, args = call["keys"], call["args"]
        script = ["EVAL", arq_private.ENQUEUE_SCRIPT, len(keys), *keys, *args]  # a new master has no scripts loaded
        async with OneConnection(self.pool) as connection:
            await connection.send(script, ["WAIT", self.min_replicas, REPLICA_WAIT_MS])
            queued = bool(await connection.reply())
            try:
                confirmed = int(await connection.reply())
            except RedisError as exc:
                raise JobNotReplicated(f"the job queue did not confirm {name}: {exc}") from exc
        if confirmed < self.min_replicas:
            raise JobNotReplicated(
                f"{confirmed} of {self.min_replicas} Redis replicas confirmed job {name} within {REPLICA_WAIT_MS} ms"
            )
        return queued

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
# A new pool on the Redis master (found afresh), for the next worker.
PoolFactory = Callable[[], BlockingConnectionPool]


async def connected(new_pool: PoolFactory) -> ArqRedis:
    """arq's client on a new pool, once the master answers; the pool is closed again when it does not."""
    redis = arq_client(new_pool())
    try:
        await redis.ping()
    except BaseException:
        await redis.connection_pool.aclose()
        raise
    return redis


async def serve(build: WorkerFactory, new_pool: PoolFactory, *, role: str) -> None:
    """Run `build(pool)` workers until SIGTERM or SIGINT, through any number of Redis outages and failovers.

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
            pool = await connected(new_pool)
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
                    await pool.connection_pool.aclose()
        if not stopping.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
    log.info("%s: stopped", role)
