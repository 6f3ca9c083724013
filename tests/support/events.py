"""Wait for what the relay publishes."""

from __future__ import annotations

import json
from typing import Any

from shared.bootstrap import Runtime
from shared.bus.base import StreamEntry
from shared.bus.redis import RedisBus
from tests.support.waiting import eventually


async def wait_for_events(runtime: Runtime, account_id: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The account's stream once it holds `count` events or more; fails naming the count after `timeout` seconds."""
    entries: list[StreamEntry] = []

    async def enough() -> bool:
        nonlocal entries
        entries = await runtime.bus.read_after(account_id, "0-0", count=10_000)
        return len(entries) >= count

    try:
        await eventually(enough, timeout, f"{count} events on account {account_id}'s stream")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; it held {[e.type for e in entries]}") from None
    return [{"id": e.id, "type": e.type, **json.loads(e.data)} for e in entries]


async def tail_blocked(bus: RedisBus) -> bool:
    """True while a connection to the bus's Redis database is blocked in an XREAD: a tail waiting on the doorbell.

    (Tests of one pytest worker run one at a time, and each worker has databases of its own.)"""
    db = str(bus.redis.connection_pool.connection_kwargs.get("db", 0))
    clients = await bus.redis.client_list()
    return any(c["cmd"] == "xread" and "b" in c["flags"] and c["db"] == db for c in clients)
