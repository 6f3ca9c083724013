"""Await a condition, never a fixed time: the one place the tests poll.

A test that waits for something to happen (a server to answer, a row to change, an email to arrive, a process to
exit) asks `eventually` (in a coroutine) or `until` (in plain code) for it. Either goes on as soon as the condition
holds, and fails naming what it waited for once its deadline has passed.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

# How often a condition is asked again: short against any deadline, long against a query's cost.
POLL_INTERVAL_S = 0.05


async def eventually(check: Callable[[], Any], timeout: float, what: str, *, interval: float = POLL_INTERVAL_S) -> Any:
    """Ask `check` (plain or async) again until it answers something truthy, and return that answer.

    Raises TimeoutError naming `what` when `timeout` seconds have passed without it."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if inspect.isawaitable(answer):
            answer = await answer
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def until(check: Callable[[], Any], timeout: float, what: str, *, interval: float = POLL_INTERVAL_S) -> Any:
    """`eventually` for plain code (a thread, a synchronous test): blocks until `check()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
