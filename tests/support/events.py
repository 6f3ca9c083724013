"""Wait for what the relay publishes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from shared.bootstrap import Runtime


async def wait_for_events(runtime: Runtime, account_id: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The account's stream once it holds `count` events (or whatever it holds at the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = await runtime.bus.read_after(account_id, "0-0", count=10_000)
        if len(entries) >= count or time.monotonic() > deadline:
            return [{"id": e.id, "type": e.type, **json.loads(e.data)} for e in entries]
        await asyncio.sleep(0.02)
