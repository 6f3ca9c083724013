"""One job run, observed: its request id bound, a line when it starts and ends, counters and a duration."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from shared.observability.context import bound_request_id, request_id_of
from shared.observability.metrics import JOB_DURATION, JOBS_FAILED, JOBS_RETRIED, JOBS_STARTED, JOBS_SUCCEEDED

log = logging.getLogger("handoff.jobs")


def _retried_unless_last(_: BaseException) -> bool:
    return True


@asynccontextmanager
async def job_run(
    function: str,
    payload: dict[str, Any],
    *,
    job_id: str | None,
    attempt: int,
    max_tries: int,
    will_retry: Callable[[BaseException], bool] = _retried_unless_last,
) -> AsyncIterator[None]:
    """Run the block as one try of a job; `will_retry` says whether the queue runs it again after an error."""
    with bound_request_id(request_id_of(payload)):
        fields = {"job": function, "job_id": job_id, "try": attempt, "handoff_id": payload.get("handoff_id")}
        JOBS_STARTED.labels(function).inc()
        log.info("job %s started (try %d)", function, attempt, extra=fields)
        started = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            outcome = "retried" if will_retry(exc) and attempt < max_tries else "failed"
            (JOBS_RETRIED if outcome == "retried" else JOBS_FAILED).labels(function).inc()
            JOB_DURATION.labels(function, outcome).observe(time.perf_counter() - started)
            log.warning(
                "job %s %s: %s", function, outcome, exc or type(exc).__name__, extra={**fields, "outcome": outcome}
            )
            raise
        JOBS_SUCCEEDED.labels(function).inc()
        JOB_DURATION.labels(function, "succeeded").observe(time.perf_counter() - started)
        log.info("job %s succeeded", function, extra={**fields, "outcome": "succeeded"})
