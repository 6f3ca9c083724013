"""The benchmarks' table: each row rides on its test's report, so the table is whole under pytest-xdist too.

A worker's rows reach the process that prints the summary only through the test reports it sends back,
hence `user_properties` rather than a list in memory.
"""

from __future__ import annotations

import os
from dataclasses import astuple, dataclass

import pytest

FULL = os.environ.get("HANDOFF_BENCH") == "full"
PROPERTY = "bench_row"
# What the benchmarks may take together at the small scale, in seconds of test time on a quiet 2-core machine:
# the small figures in tests/bench are chosen to fit it. Reported beside the table, never asserted.
SMALL_BUDGET_S = 90


@dataclass
class Row:
    figure: str
    project: str
    floor: str
    goal: str


HEADER = Row("figure", "project", "floor", "goal")


def keep_row(item: pytest.Item, row: Row) -> None:
    """Keep `row` on the test's report, for the table at the end of the run (any test's, not only a benchmark's)."""
    item.user_properties.append((PROPERTY, (row.figure, row.project, row.floor, row.goal)))


class BenchTable:
    """Collects the rows from every test report and writes them as one table at the end of the run."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.seconds = 0.0

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.nodeid.startswith("tests/bench/"):
            self.seconds += report.duration
        if report.when == "call":
            self.rows.extend(Row(*value) for name, value in report.user_properties if name == PROPERTY)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.rows:
            return
        table = [HEADER, *self.rows]
        widths = [max(len(cell) for cell in column) for column in zip(*map(astuple, table), strict=True)]
        took = f"{self.seconds:.0f} s" if FULL else f"{self.seconds:.0f} s of a {SMALL_BUDGET_S} s budget"
        terminalreporter.section(f"benchmarks ({'full' if FULL else 'small'} scale, {took})")
        for row in table:
            terminalreporter.write_line(" | ".join(cell.ljust(w) for cell, w in zip(astuple(row), widths, strict=True)))
