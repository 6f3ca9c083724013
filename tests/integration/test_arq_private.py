"""The fence around arq's internals: each thing `shared.jobs.arq_private` relies on, checked against arq itself.

When one of these fails after an arq upgrade, the job queue's enqueue, requeue or worker shutdown is wrong.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from signal import Signals
from typing import Any

import pytest
from arq.jobs import Job, JobStatus
from arq.worker import Worker, func
from redis.asyncio import BlockingConnectionPool

from shared.jobs import arq_private
from shared.jobs.arq import ArqJobQueue, arq_client, arq_worker
from shared.jobs.base import JOB_QUEUES
from tests.conftest import REDIS_URL
from tests.support.waiting import eventually


@pytest.fixture
async def pool() -> AsyncIterator[BlockingConnectionPool]:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=8)
    yield pool
    await pool.aclose()


async def test_our_one_round_trip_enqueue_is_a_job_arq_holds_as_its_own(pool: BlockingConnectionPool) -> None:
    client = arq_client(pool)
    job_id = f"assess:{uuid.uuid4()}"
    assert await ArqJobQueue(pool).enqueue("assess", job_id, {"handoff_id": "h"}) is True
    job = Job(job_id, client, _queue_name=JOB_QUEUES["assess"], _deserializer=client.job_deserializer)
    assert await job.status() == JobStatus.queued
    info = await job.info()
    assert info is not None
    assert (info.function, info.args) == ("assess", ({"handoff_id": "h"},))
    # arq's own enqueue refuses the id while it holds our job.
    assert await client.enqueue_job("assess", {}, _job_id=job_id, _queue_name=JOB_QUEUES["assess"]) is None
    await client.zrem(JOB_QUEUES["assess"], job_id)
    await client.delete(*arq_private.leftover_keys(job_id))
    assert await job.status() == JobStatus.not_found


async def test_a_worker_marks_results_and_retires_as_the_fence_says(pool: BlockingConnectionPool) -> None:
    client = arq_client(pool)
    queue = f"arq:fence:{uuid.uuid4()}"
    job_id = f"assess:{uuid.uuid4()}"
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def assess(_ctx: dict[str, Any], payload: dict[str, Any]) -> None:
        started.set()
        await release.wait()
        finished.append(payload["handoff_id"])

    worker = arq_worker(
        functions=[func(assess, name="assess")],
        queue_name=queue,
        redis_pool=client,
        handle_signals=False,
        poll_delay=0.02,
        health_check_interval=1,
    )
    assert arq_private.reads_our_format(worker)
    assert not arq_private.reads_our_format(Worker(functions=[func(assess, name="assess")], redis_pool=client))
    stops: list[Signals] = []
    arq_private.on_stop(worker, stops.append)
    running = asyncio.create_task(worker.async_run())
    try:
        call = arq_private.enqueue_script_call(client, queue, "assess", job_id, {"handoff_id": "h"})
        assert await client.register_script(arq_private.ENQUEUE_SCRIPT)(**call) == 1
        await asyncio.wait_for(started.wait(), 10)
        assert await client.exists(arq_private.running_key(job_id)) == 1
        await eventually(lambda: client.exists(worker.health_check_key), 10, "the worker to report its health")
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    # A worker whose loop has ended (Redis lost, or a signal) still holds its running job: retiring waits for it.
    asyncio.get_running_loop().call_soon(release.set)
    await arq_private.retire(worker)
    assert finished == ["h"]
    assert await client.exists(worker.health_check_key) == 0
    assert await client.exists(arq_private.leftover_keys(job_id)[0]) == 1  # arq's result of the job
    await worker.close()
    assert stops == [Signals.SIGUSR1]
