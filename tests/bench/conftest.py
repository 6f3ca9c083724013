"""Benchmarks: each prints its figures beside its floor, and every row lands in one table at the end.

`make test` runs them at a small scale (they must work, their figures are printed); `make bench`
sets HANDOFF_BENCH=full for the scale of the performance goals. Nothing here asserts a time.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

FULL = os.environ.get("HANDOFF_BENCH") == "full"


def scale(small: int, full: int) -> int:
    return full if FULL else small


def p50(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def p99(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def p50_p99(samples: Sequence[float]) -> str:
    return f"{p50(samples):.1f} / {p99(samples):.1f} ms"


@dataclass
class Row:
    figure: str
    project: str
    floor: str
    goal: str


ROWS: list[Row] = []


def record(figure: str, project: str, floor: str, goal: str) -> None:
    """Print one row now (under -s) and keep it for the table at the end of the run."""
    row = Row(figure, project, floor, goal)
    ROWS.append(row)
    print(f"\n[bench] {figure}: {project} | floor {floor} | goal {goal}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    header = Row("figure", "project", "floor", "goal")
    widths = [max(len(getattr(r, f)) for r in [*ROWS, header]) for f in Row.__annotations__]
    terminalreporter.section(f"benchmarks ({'full' if FULL else 'small'} scale)")
    for row in [header, *ROWS]:
        cells = [getattr(row, f).ljust(w) for f, w in zip(Row.__annotations__, widths, strict=True)]
        terminalreporter.write_line(" | ".join(cells))
