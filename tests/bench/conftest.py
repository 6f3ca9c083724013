"""Benchmarks: each prints its figures beside its floor, and every row lands in one table at the end.

`make test` runs them at a small scale (they must work, their figures are printed); `make bench`
sets HANDOFF_BENCH=full for the scale of the performance goals. Nothing here asserts a time.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest

from tests.bench.report import FULL, Row, keep_row

__all__ = ["FULL", "p50", "p50_p99", "p99", "record", "scale"]


def scale(small: int, full: int) -> int:
    return full if FULL else small


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def p50_p99(samples: Sequence[float]) -> str:
    return f"{p50(samples):.1f} / {p99(samples):.1f} ms"


_running: list[pytest.Item] = []


@pytest.fixture(autouse=True)
def _bench_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """The benchmark running now, whose report carries the rows it records."""
    _running.append(request.node)
    yield
    _running.remove(request.node)


def _query(dsn: str, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        connection = await asyncpg.connect(dsn)
        try:
            return await connection.fetchval(sql, *args)
        finally:
            await connection.close()

    # A thread of its own: the test's event loop may be running.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(autouse=True)
def _no_timers_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """A benchmark on the worker's shared database (pg_url) cancels the timers its escalations leave pending.

    Their steps and reminders fall due minutes later, in the middle of other tests on the same worker that fire due
    timers a batch at a time, oldest first: those would fire the benchmark's and not their own."""
    if "pg_url" not in request.fixturenames:
        yield
        return
    dsn = str(request.getfixturevalue("pg_url")).replace("postgresql+asyncpg://", "postgresql://", 1)
    last = _query(dsn, "SELECT coalesce(max(id), 0) FROM handoff_timers")
    yield
    _query(
        dsn,
        "UPDATE handoff_timers SET cancelled_at = now() WHERE id > $1 AND fired_at IS NULL AND cancelled_at IS NULL",
        last,
    )


def record(figure: str, project: str, floor: str, goal: str) -> None:
    """Print one row now (under -s) and keep it on the test's report for the table at the end of the run."""
    keep_row(_running[-1], Row(figure, project, floor, goal))
    print(f"\n[bench] {figure}: {project} | floor {floor} | goal {goal}")
