"""The per-replica SSE hub: one tail over the streams of the accounts this replica serves.

Browsers never get a Redis connection of their own. One reader task blocks on the bus for the
accounts that have local subscribers and copies each event, serialised once, into bounded
per-client queues. A client whose queue overflows is dropped; it reconnects with its last id and
loses nothing, because the stream keeps what it missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass, field

from services.handoff_api.sse.metrics import SSE_EVENTS
from shared.bus.base import Bus, BusUnavailable, StreamEntry, parse_id

log = logging.getLogger("handoff.sse")

Frame = tuple[tuple[int, int], bytes]


def event_frame(entry: StreamEntry) -> bytes:
    """`id:`, `event:` and one-line `data:`: the contract's event frame."""
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (entry.id.encode(), entry.type.encode(), entry.data)


@dataclass(eq=False)
class Subscriber:
    account_id: str
    queue: asyncio.Queue[Frame]
    dropped: asyncio.Event = field(default_factory=asyncio.Event)
    drop_reason: str | None = None
    replaying: bool = True
    lagged: bool = False

    def drop(self, reason: str) -> None:
        if not self.dropped.is_set():
            self.drop_reason = reason
            self.dropped.set()

    def offer(self, frame: Frame) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            if self.replaying:
                self.lagged = True  # the replay reads the stream again; nothing is lost
            else:
                self.drop("slow")


class SSEHub:
    def __init__(self, bus: Bus, *, client_buffer: int = 64, block_ms: int = 5000) -> None:
        self.bus = bus
        self.client_buffer = client_buffer
        self.block_ms = block_ms
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._cursors: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._has_accounts = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.closing = False

    @property
    def client_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sse-hub")

    async def stop(self) -> None:
        """Drop every client (so open streams end and the server can stop), then the reader."""
        self.closing = True
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.drop("shutdown")
        if self._task is None:
            return
        # Ask the reader to finish rather than cancel it: a cancelled Redis read may be swallowed.
        self._has_accounts.set()
        with suppress(Exception):
            async with asyncio.timeout(1):
                await self.bus.interrupt_tail()
        done, _ = await asyncio.wait({self._task}, timeout=self.block_ms / 1000 + 1)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=1)
        self._task = None

    async def subscribe(self, account_id: str) -> Subscriber:
        """Register first, so every event from now on is queued; the caller then replays up to here."""
        subscriber = Subscriber(account_id, asyncio.Queue(self.client_buffer))
        async with self._lock:
            if account_id not in self._cursors:
                self._cursors[account_id] = await self.bus.tip(account_id)
                self._has_accounts.set()
                self._subscribers[account_id].add(subscriber)
                await self.bus.interrupt_tail()
            else:
                self._subscribers[account_id].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(subscriber.account_id)
        if subscribers is None:
            return
        subscribers.discard(subscriber)
        if not subscribers:
            del self._subscribers[subscriber.account_id]
            self._cursors.pop(subscriber.account_id, None)

    async def _run(self) -> None:
        backoff = 0.0
        while not self.closing:
            if not self._cursors:
                self._has_accounts.clear()
                await self._has_accounts.wait()
                continue
            try:
                found = await self.bus.tail(dict(self._cursors), self.block_ms)
            except BusUnavailable as exc:
                backoff = min(5.0, backoff * 2 or 0.2)
                log.warning("sse hub: the bus is unavailable (%s); retrying in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                continue
            except Exception:
                log.exception("sse hub: tail failed")
                await asyncio.sleep(1.0)
                continue
            backoff = 0.0
            await self._fan_out(found)

    async def _fan_out(self, found: list[tuple[str, StreamEntry]]) -> None:
        # Safe to yield between events: a subscriber is registered before it reads the tip it replays
        # to, so whatever it misses here is in its replay, and duplicates are dropped by id.
        for account_id, entry in found:
            if account_id not in self._cursors:
                continue
            if parse_id(entry.id) <= parse_id(self._cursors[account_id]):
                continue
            self._cursors[account_id] = entry.id
            frame: Frame = (parse_id(entry.id), event_frame(entry))
            SSE_EVENTS.inc()
            for subscriber in list(self._subscribers.get(account_id, ())):
                subscriber.offer(frame)
            if len(found) > 1:
                await asyncio.sleep(0)  # let healthy writers drain a burst before the next event
