"""One contract, two job queues: arq on Redis and the in-process queue take a job id once, as JSON."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.jobs import Job, JobResult
from arq.worker import func
from redis.asyncio import BlockingConnectionPool

from shared.jobs.arq import ArqJobQueue, arq_client, arq_worker
from shared.jobs.base import JOB_QUEUES, JobQueue
from shared.jobs.codec import UnwritableJob
from shared.jobs.memory import InProcessJobQueue
from tests.conftest import REDIS_URL
from tests.support.processes import RedisServer
from tests.support.waiting import eventually


async def test_arq_queue_takes_a_job_id_once() -> None:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=2)
    jobs = ArqJobQueue(pool)
    job_id = f"assess:{uuid.uuid4()}"
    try:
        assert await jobs.enqueue("assess", job_id, {"handoff_id": "h"}) is True
        assert await jobs.enqueue("assess", job_id, {"handoff_id": "h"}) is False
        queued = await arq_client(pool).queued_jobs(queue_name=JOB_QUEUES["assess"])
        assert [j.job_id for j in queued].count(job_id) == 1
        assert [j.args for j in queued if j.job_id == job_id] == [({"handoff_id": "h"},)]
        # What Redis holds is JSON, which no reader can be made to run as code (arq's default is pickle).
        stored = await arq_client(pool).get(f"arq:job:{job_id}")
        assert json.loads(stored)["a"] == [{"handoff_id": "h"}]
    finally:
        await jobs.close()
        await pool.aclose()


async def test_in_process_queue_runs_each_job_once_and_retries_failures() -> None:
    jobs = InProcessJobQueue(retry_delay_s=0.01)
    seen: list[dict[str, Any]] = []
    failures = {"left": 2}
    done = asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        if payload["n"] == 2 and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("transient")
        seen.append(payload)
        if len(seen) == 3:
            done.set()

    for n in (1, 2, 3):
        assert await jobs.enqueue("notify", f"notify:{n}", {"n": n}) is True
    assert await jobs.enqueue("notify", "notify:1", {"n": 1}) is False
    jobs.run("notify", handler, concurrency=1)
    await asyncio.wait_for(done.wait(), 5)
    await jobs.close()
    assert sorted(p["n"] for p in seen) == [1, 2, 3]


async def test_arq_requeue_takes_a_finished_or_lost_job_but_not_a_queued_one() -> None:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=2)
    jobs = ArqJobQueue(pool)
    arq = arq_client(pool)
    job_id = f"assess:{uuid.uuid4()}"
    try:
        assert await jobs.enqueue("assess", job_id, {"handoff_id": "h"}) is True
        assert await jobs.requeue("assess", job_id, {"handoff_id": "h"}) is False  # still queued
        # A worker ran it out of tries: arq keeps its failed result, which blocks enqueue but not requeue.
        await arq.zrem(JOB_QUEUES["assess"], job_id)
        await arq.delete(f"arq:job:{job_id}")
        await arq.set(f"arq:result:{job_id}", b"x", ex=60)
        assert await jobs.enqueue("assess", job_id, {"handoff_id": "h"}) is False
        assert await jobs.requeue("assess", job_id, {"handoff_id": "h"}) is True
        assert [j.job_id for j in await arq.queued_jobs(queue_name=JOB_QUEUES["assess"])].count(job_id) == 1
    finally:
        await jobs.close()
        await pool.aclose()


async def test_in_process_requeue_after_a_job_runs_out_of_tries(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="handoff.jobs")
    jobs = InProcessJobQueue(max_tries=2, retry_delay_s=0.01)
    calls: list[int] = []
    healthy = asyncio.Event()
    done = asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        calls.append(payload["n"])
        if not healthy.is_set():
            raise RuntimeError("database unavailable")
        done.set()

    jobs.run("notify", handler, concurrency=1)
    assert await jobs.enqueue("notify", "notify:1", {"n": 1}) is True
    # The queue logs that the job is out of tries in the same step as it lets the job's id go.
    await eventually(lambda: "notify:1: out of tries" in caplog.text, 5, "the job to run out of its two tries")
    assert calls == [1, 1]
    assert await jobs.enqueue("notify", "notify:1", {"n": 1}) is False  # its id stays taken...
    healthy.set()
    assert await jobs.requeue("notify", "notify:1", {"n": 1}) is True  # ...but the sweeper may queue it again
    await asyncio.wait_for(done.wait(), 5)
    await jobs.close()
    assert calls == [1, 1, 1]


async def test_in_process_close_lets_a_running_job_finish() -> None:
    jobs = InProcessJobQueue(drain_s=5)
    started, finished = asyncio.Event(), asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.sleep(0.3)  # simulated work: the job is still running when the queue is closed
        finished.set()

    jobs.run("assess", handler, concurrency=2)
    await jobs.enqueue("assess", "assess:1", {})
    await asyncio.wait_for(started.wait(), 5)
    await jobs.close()
    assert finished.is_set()


class Trap:
    """Unpickling this creates `path`: proof that a worker ran what a pickle told it to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


async def result_of(pool: BlockingConnectionPool, job_id: str) -> JobResult:
    client = arq_client(pool)
    info = await Job(job_id, client, _deserializer=client.job_deserializer).result_info()
    assert info is not None
    return info


async def test_a_worker_drops_a_pickled_job_unread_and_runs_the_next(tmp_path: Path) -> None:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=4)
    queue = f"handoff:test:jobs:{uuid.uuid4()}"  # this test's own: no other test's jobs are taken
    marker = tmp_path / "unpickled"
    ran: list[dict[str, Any]] = []

    async def assess(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
        ran.append(payload)
        return "assessed"

    # A job of the pickle format, as an older version (or anyone with access to Redis) left it.
    legacy = await ArqRedis(connection_pool=pool).enqueue_job(
        "assess", Trap(marker), _job_id=f"assess:{uuid.uuid4()}", _queue_name=queue
    )
    current = await arq_client(pool).enqueue_job(
        "assess", {"handoff_id": "h2"}, _job_id=f"assess:{uuid.uuid4()}", _queue_name=queue
    )
    assert legacy is not None
    assert current is not None
    worker = arq_worker(
        functions=[func(assess, name="assess")],
        queue_name=queue,
        redis_pool=arq_client(pool),
        burst=True,
        poll_delay=0.01,
        handle_signals=False,
        keep_result=60,
    )
    try:
        await asyncio.wait_for(worker.main(), 10)
        assert ran == [{"handoff_id": "h2"}]
        assert not marker.exists()
        dropped = await result_of(pool, legacy.job_id)
        assert (dropped.success, dropped.function) == (False, "<unknown>")
        assert "pickled job" in str(dropped.result)
        done = await result_of(pool, current.job_id)
        assert (done.success, done.result) == (True, "assessed")
    finally:
        await worker.close()
        await pool.aclose()


@pytest.mark.parametrize("kind", ["arq", "in-process"])
async def test_a_job_whose_arguments_json_cannot_hold_is_refused(kind: str) -> None:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=2)
    jobs: JobQueue = ArqJobQueue(pool) if kind == "arq" else InProcessJobQueue()
    try:
        with pytest.raises(UnwritableJob):
            await jobs.enqueue("assess", f"assess:{uuid.uuid4()}", {"handoff_id": object()})
        # Ids and times travel as the strings a worker reads back from Redis.
        handoff_id, at = uuid.uuid4(), datetime(2026, 12, 5, 9, 30, tzinfo=UTC)
        job_id = f"assess:{uuid.uuid4()}"
        assert await jobs.enqueue("assess", job_id, {"handoff_id": handoff_id, "at": at}) is True
        if isinstance(jobs, ArqJobQueue):
            queued = await arq_client(pool).queued_jobs(queue_name=JOB_QUEUES["assess"])
            payload = next(j.args[0] for j in queued if j.job_id == job_id)
            await arq_client(pool).zrem(JOB_QUEUES["assess"], job_id)
        else:
            seen: list[dict[str, Any]] = []
            done = asyncio.Event()

            async def handler(payload: dict[str, Any]) -> None:
                seen.append(payload)
                done.set()

            jobs.run("assess", handler, concurrency=1)
            await asyncio.wait_for(done.wait(), 5)
            payload = seen[0]
        assert payload == {"handoff_id": str(handoff_id), "at": "2026-12-05T09:30:00Z"}
    finally:
        await jobs.close()
        await pool.aclose()


@pytest.mark.parametrize("kind", ["arq", "memory"])
async def test_a_batch_queues_each_job_once_even_sent_twice(kind: str, tmp_path: Path) -> None:
    """What the outbox relay sends in one go; sent again (after a failure that left unsaid which were queued), each
    job id is still queued once. On Redis the first batch meets a server without arq's script (a restart, a
    failover), which is loaded and the batch sent again."""
    own = RedisServer(tmp_path)
    pool: BlockingConnectionPool | None = None
    jobs: JobQueue
    if kind == "arq":
        own.start()
        pool = BlockingConnectionPool.from_url(own.url, max_connections=2)
        jobs = ArqJobQueue(pool)
    else:
        jobs = InProcessJobQueue()
    ids = [f"assess:{uuid.uuid4()}", f"notify:{uuid.uuid4()}", f"assess:{uuid.uuid4()}"]
    batch = [(job_id.split(":")[0], job_id, {"handoff_id": job_id}) for job_id in ids]
    try:
        await jobs.enqueue_many(batch)
        await jobs.enqueue_many(batch)
        for name, job_id, payload in batch:
            assert await jobs.enqueue(name, job_id, payload) is False  # already queued
        if pool is not None:
            queued = []
            for queue in {JOB_QUEUES["assess"], JOB_QUEUES["notify"]}:
                queued += [(j.job_id, j.args) for j in await arq_client(pool).queued_jobs(queue_name=queue)]
            assert sorted(queued) == sorted((job_id, (payload,)) for _, job_id, payload in batch)
        else:
            assert isinstance(jobs, InProcessJobQueue)
            assert jobs.job_ids() == set(ids)
    finally:
        await jobs.close()
        if pool is not None:
            await pool.aclose()
        own.stop()
