"""`python -m tests.soak` (`make soak`): the chaos soak, then its table of invariants; exit 1 on any violation.

    python -m tests.soak --seconds 300 [--seed N] [--rate 1.0] [--accounts 20] [--settle 300]

The seed is printed at the start and with any failure; `--seed` (`SOAK_SEED` under make) replays its faults.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

from tests.soak.checker import Row, check, read_facts, settle, stream_tip, table
from tests.soak.faults import Fault, FaultDriver
from tests.soak.load import Load
from tests.soak.stack import now, soak_stack

ROOT = Path(__file__).parents[2]


def say(line: str) -> None:
    print(line, flush=True)


@dataclass
class Outcome:
    seed: int
    rows: list[Row]
    settled: bool
    folder: Path

    @property
    def passed(self) -> bool:
        return self.settled and not any(row.violations for row in self.rows)


async def soak(
    seconds: float,
    seed: int,
    folder: Path,
    *,
    rate: float = 1.0,
    accounts: int = 20,
    settle_s: float = 300,
    sentinel: bool = False,
) -> Outcome:
    """Run the stack, the load and the faults for `seconds`, let it settle, and check what it did.

    With `sentinel`, Redis is a master with two replicas and three sentinels, and the master is killed twice.
    """
    variant = " with Redis behind Sentinel, the master killed twice" if sentinel else ""
    say(f"soak: {seconds:.0f} s{variant}, seed {seed} (SOAK_SEED={seed} replays its faults); logs in {folder}")
    async with soak_stack(folder, Random(f"{seed}:vendors"), sentinel=sentinel) as stack:
        load = Load(stack, Random(f"{seed}:load"), accounts=accounts, rate=rate, say=say)
        await load.setup()
        say(f"{len(load.accounts)} accounts, {len(load.followers)} dashboards; load and faults start")
        started = now()
        until = started + seconds
        faults = FaultDriver(stack, Random(seed), started=started, say=say)
        await asyncio.gather(load.run(until), faults.run(until))
        made = f"{len(load.escalations)} escalations, {len(faults.faults)} faults"
        say(f"load stopped after {now() - started:.0f} s: {made}")
        found = await load.claim_what_is_open()
        if found:
            say(f"claimed {found} escalations still open after the load")
        settled = await settle(stack, settle_s, say)
        await load.stop_following(lambda account: stream_tip(stack, account.id), timeout=60)
        rows = check(stack, load, faults.faults, await read_facts(stack, load), started)
    say(table(rows))
    if faults.failovers:
        taken = ", ".join(f"{seconds:.1f} s" for seconds in faults.failovers)
        say(f"failovers: a replica was the master {taken} after each SIGKILL of the master")
    write_record(folder, rows, faults.faults)
    outcome = Outcome(seed, rows, settled, folder)
    if outcome.passed:
        say(f"soak passed (seed {seed})")
    else:
        say(f"soak FAILED with seed {seed}: replay with SOAK_SEED={seed}; logs in {folder}")
    return outcome


def write_record(folder: Path, rows: list[Row], faults: list[Fault]) -> None:
    """Every violation and every fault, in full, beside the processes' logs."""
    lines = [f"{row.invariant}: {violation}" for row in rows for violation in row.violations]
    (folder / "violations.txt").write_text("".join(f"{line}\n" for line in lines))
    (folder / "faults.txt").write_text("".join(f"{f.number} {f.kind} {f.target}: {f.detail}\n" for f in faults))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The chaos soak: load, faults, then the invariants' table.")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_S", "300")))
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rate", type=float, default=1.0, help="escalations per second")
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--settle", type=float, default=300, help="the most seconds to wait for the stack to settle")
    parser.add_argument("--sentinel", action="store_true", help="Redis behind Sentinel; its master killed twice")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    folder = ROOT / "test-artifacts" / "soak" / f"{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}"
    run = soak(
        args.seconds, seed, folder, rate=args.rate, accounts=args.accounts, settle_s=args.settle, sentinel=args.sentinel
    )
    try:
        outcome = asyncio.run(stopped_by_sigterm(run))
    except (asyncio.CancelledError, KeyboardInterrupt):
        say(f"soak stopped before its end (seed {seed}); its processes are gone; logs in {folder}")
        return 130
    return 0 if outcome.passed else 1


async def stopped_by_sigterm(run: Coroutine[Any, Any, Outcome]) -> Outcome:
    """SIGTERM (a CI timeout, `kill`) cancels the soak like Ctrl-C does, so its stack is torn down, not orphaned."""
    task = asyncio.ensure_future(run)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await task


if __name__ == "__main__":
    sys.exit(main())
