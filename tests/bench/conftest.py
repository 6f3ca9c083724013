"""Benchmarks: each prints its figures beside its floor, and every row lands in one table at the end.

`make test` runs them at a small scale (they must work, their figures are printed); `make bench`
sets HANDOFF_BENCH=full for the scale of the performance goals. Nothing here asserts a time.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence

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


def record(figure: str, project: str, floor: str, goal: str) -> None:
    """Print one row now (under -s) and keep it on the test's report for the table at the end of the run."""
    keep_row(_running[-1], Row(figure, project, floor, goal))
    print(f"\n[bench] {figure}: {project} | floor {floor} | goal {goal}")
