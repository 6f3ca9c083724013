"""What every arq worker of the service shares: observed job functions, health reporting, the health check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from arq.constants import health_check_key_suffix
from arq.worker import Retry
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.jobs.base import JOB_QUEUES
from shared.observability.jobs import job_run
from shared.redis_master import RedisMaster

# The worker records its health this often, under arq's key for its queue, which lives one second longer.
HEALTH_CHECK_INTERVAL_S = 10
CHECK_TIMEOUT_S = 3.0

ArqFunction = Callable[..., Coroutine[Any, Any, Any]]


def observed(function: str, run: ArqFunction, *, max_tries: int) -> ArqFunction:
    """`run` with its request id bound and its tries counted; arq runs a job again after `Retry` or a timeout."""

    async def observed_run(ctx: dict[str, Any], payload: dict[str, Any]) -> Any:
        async with job_run(
            function,
            payload,
            job_id=ctx.get("job_id"),
            attempt=int(ctx.get("job_try", 1)),
            max_tries=max_tries,
            will_retry=lambda exc: isinstance(exc, Retry | asyncio.CancelledError | TimeoutError),
        ):
            return await run(ctx, payload)

    observed_run.__qualname__ = observed_run.__name__ = function
    return observed_run


def health_key(job: str) -> str:
    """arq's health-check key of the queue that runs `job`."""
    return JOB_QUEUES[job] + health_check_key_suffix


def health_options(job: str) -> dict[str, Any]:
    """`Worker(...)` keyword arguments that make a worker report its health every few seconds."""
    return {"health_check_interval": HEALTH_CHECK_INTERVAL_S, "health_check_key": health_key(job)}


async def worker_is_healthy(master: RedisMaster, job: str) -> bool:
    """True when a worker of the queue running `job` recorded its health within the key's lifetime."""
    pool = master.pool(max_connections=1, socket_timeout=CHECK_TIMEOUT_S, connect_timeout=CHECK_TIMEOUT_S)
    redis = Redis.from_pool(pool)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            return bool(await redis.exists(health_key(job)))
    except (RedisError, OSError, TimeoutError):
        return False
    finally:
        await redis.aclose()
