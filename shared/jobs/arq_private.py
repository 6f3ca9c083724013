"""What the job queue relies on inside arq beyond its documented API, all here (tested on arq 0.28).

- Its Redis layout: a job is stored at `arq:job:<id>` (written with `serialize_job`, kept for
  `ArqRedis.expires_extra_ms`), its result at `arq:result:<id>`, a running job's mark at
  `arq:in-progress:<id>`, its try count at `arq:retry:<id>`, and the queue is a sorted set of ids scored
  by the time each is due. Our one-round-trip enqueue writes those keys itself, as arq's `enqueue_job` does.
- Its Worker's attributes: `tasks` (job id → running task), `in_progress_timeout_s`, `pool`,
  `health_check_key`, `job_deserializer`, and `on_stop`, which it calls with the signal that stops it.

A new arq may change any of these without notice: the fence's test fails first, and `pyproject.toml`
admits only the arq minor it passes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from signal import Signals
from typing import Any

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix, retry_key_prefix
from arq.jobs import SerializationError, serialize_job
from arq.utils import timestamp_ms
from arq.worker import Worker
from redis.exceptions import RedisError

from shared.jobs.codec import UnwritableJob, deserialize_job_data

log = logging.getLogger("handoff.jobs")

# arq's own enqueue_job (WATCH, EXISTS, then MULTI/EXEC: three round trips) as one script: the same
# keys, the same serialised job and the same refusal of an id arq still holds a job or result for.
ENQUEUE_SCRIPT = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


def enqueue_script_call(redis: ArqRedis, queue: str, name: str, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The keys and arguments of `ENQUEUE_SCRIPT` for one job of `name` due now on `queue`."""
    now_ms = timestamp_ms()
    try:
        job = serialize_job(name, (payload,), {}, None, now_ms, serializer=redis.job_serializer)
    except SerializationError as exc:
        raise UnwritableJob(f"a job's arguments must be JSON: {exc.__cause__}") from exc
    keys = [job_key_prefix + job_id, result_key_prefix + job_id, queue]
    return {"keys": keys, "args": [redis.expires_extra_ms, job, now_ms, job_id]}


def running_key(job_id: str) -> str:
    """Where arq marks a job one of its workers is running."""
    return in_progress_key_prefix + job_id


def leftover_keys(job_id: str) -> tuple[str, ...]:
    """What arq keeps of a job that is neither queued nor running: its result, its record, its try count."""
    return tuple(prefix + job_id for prefix in (result_key_prefix, job_key_prefix, retry_key_prefix))


def reads_our_format(worker: Worker) -> bool:
    """Whether `worker` was built to read jobs as our JSON (arq's default is pickle)."""
    return worker.job_deserializer is deserialize_job_data


def on_stop(worker: Worker, stop: Callable[[Signals], None]) -> None:
    """Have `worker` call `stop` when a signal stops it."""
    worker.on_stop = stop


async def retire(worker: Worker) -> None:
    """Let the jobs it started finish (each is bounded by its timeout), then forget it."""
    tasks: dict[str, asyncio.Task[Any]] = worker.tasks
    running = [task for task in tasks.values() if not task.done()]
    if running:
        log.info("letting %d running jobs finish", len(running))
        await asyncio.wait(running, timeout=worker.in_progress_timeout_s)
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    with suppress(RedisError, OSError):
        await worker.pool.delete(worker.health_check_key)
