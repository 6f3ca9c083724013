"""Jobs on arq: the deterministic `_job_id` makes a re-sent job a no-op while arq remembers it."""

from __future__ import annotations

from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import RedisError

from shared.jobs.base import JOB_QUEUES, JobQueueUnavailable


class ArqJobQueue:
    def __init__(self, pool: BlockingConnectionPool) -> None:
        self.redis = ArqRedis(connection_pool=pool)

    async def enqueue(self, name: str, job_id: str, payload: dict[str, Any]) -> bool:
        try:
            job = await self.redis.enqueue_job(name, payload, _job_id=job_id, _queue_name=JOB_QUEUES[name])
        except RedisError as exc:
            raise JobQueueUnavailable(f"could not enqueue {name}: {exc}") from exc
        return job is not None

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except RedisError:
            return False

    async def close(self) -> None:
        await self.redis.aclose()
