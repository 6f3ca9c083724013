"""The chaos soak, 45 seconds of it: the stack, the load and the faults of `make soak`, and the same invariants."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.soak.__main__ import soak
from tests.soak.checker import table

# One worker runs it, whatever else runs beside it: it starts processes and a Redis of its own.
pytestmark = pytest.mark.xdist_group("soak")

SECONDS = 45
# Generous, but finite: a killed assessor's job is taken up again about a minute after it started.
SETTLE_S = 240


async def test_a_45_second_chaos_soak_breaks_no_invariant(tmp_path: Path) -> None:
    seed = int(os.environ.get("SOAK_SEED") or random.SystemRandom().randrange(1, 10**6))
    outcome = await soak(SECONDS, seed, tmp_path / "soak", rate=0.8, settle_s=SETTLE_S)
    assert outcome.passed, f"the soak failed with SOAK_SEED={seed} (logs in {outcome.folder}):\n{table(outcome.rows)}"
