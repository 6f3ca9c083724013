"""`make test` relies on `--dist loadgroup` keeping each xdist_group on one worker (tests/conftest.py: the
benchmarks and the claim race, the browser tests). A pytest and pytest-xdist pair that silently stops grouping
(pytest 9 with pytest-xdist 3.8 did) would run them side by side: this runs a small project to see it hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = """
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("n", range(8))
def test_member(n: int) -> None:
    Path(os.environ["WORKERS_FILE"]).open("a").write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")


@pytest.mark.parametrize("n", range(8))
def test_loose(n: int) -> None:
    pass
"""


def test_an_xdist_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_grouped.py").write_text(PROJECT)
    workers_file = tmp_path / "workers.txt"
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env={"WORKERS_FILE": str(workers_file), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    workers = workers_file.read_text().split()
    assert len(workers) == 8
    assert len(set(workers)) == 1, f"the group's tests ran on {sorted(set(workers))}: --dist loadgroup did not group"
