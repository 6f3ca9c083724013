"""The per-replica SSE hub: one tail over the streams of the accounts this replica serves.

Browsers never get a Redis connection of their own. One reader task blocks on the bus for the
accounts that have local subscribers and copies each event, serialised once, into bounded
per-client queues. A client whose queue overflows is dropped; it reconnects with its last id and
loses nothing, because the stream keeps what it missed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from services.handoff_api.sse.metrics import SSE_EVENT_LATENCY, SSE_EVENTS
from shared.bus.base import Bus, BusUnavailable, StreamEntry, parse_id
from shared.clock import utcnow
from shared.directory.schemas import DirectoryNotice
from shared.directory.service import DIRECTORY_STREAM

log = logging.getLogger("handoff.sse")

Frame = tuple[tuple[int, int], bytes]
# Given the (user, account) pairs holding streams, the users the directory now refuses.
DirectoryCheck = Callable[[set[tuple[uuid.UUID, uuid.UUID]]], Awaitable[set[uuid.UUID]]]
DIRECTORY = str(DIRECTORY_STREAM)


class TooManyStreams(Exception):
    """The user holds as many streams on this replica as one user may."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} open streams per user")
        self.limit = limit


class _Occurred(msgspec.Struct):
    occurred_at: str | None = None


def observe_latency(entry: StreamEntry) -> None:
    """How long the event took from the change that caused it to this hub (`occurred_at` to now)."""
    try:
        occurred = msgspec.json.decode(entry.data, type=_Occurred).occurred_at
        if occurred:
            seconds = (utcnow() - datetime.fromisoformat(occurred)).total_seconds()
            SSE_EVENT_LATENCY.labels(entry.type).observe(max(0.0, seconds))
    except (msgspec.DecodeError, ValueError):
        pass  # an event without a readable time is still delivered, just not timed


def event_frame(entry: StreamEntry) -> bytes:
    """`id:`, `event:` and one-line `data:`: the contract's event frame."""
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (entry.id.encode(), entry.type.encode(), entry.data)


@dataclass(eq=False)
class Subscriber:
    account_id: str
    user_id: uuid.UUID
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
    def __init__(
        self,
        bus: Bus,
        *,
        client_buffer: int = 64,
        block_ms: int = 5000,
        directory_check: DirectoryCheck | None = None,
        recheck_s: float = 3.0,
    ) -> None:
        self.bus = bus
        self.client_buffer = client_buffer
        self.block_ms = block_ms
        self.directory_check = directory_check
        self.recheck_s = recheck_s
        self._watch: asyncio.Task[None] | None = None
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._cursors: dict[str, str] = {}
        self._directory_cursor: str | None = None
        self._lock = asyncio.Lock()
        self._has_accounts = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.closing = False

    def streams_of(self, user_id: uuid.UUID) -> int:
        """How many streams this user holds on this replica."""
        return sum(1 for subscribers in self._subscribers.values() for s in subscribers if s.user_id == user_id)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sse-hub")
        if self._watch is None and self.directory_check is not None:
            self._watch = asyncio.create_task(self._watch_directory(), name="sse-directory-watch")

    async def stop(self) -> None:
        """Drop every client (so open streams end and the server can stop), then the reader."""
        self.closing = True
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.drop("shutdown")
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
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

    async def subscribe(self, account_id: str, user_id: uuid.UUID, *, max_streams: int | None = None) -> Subscriber:
        """Register first, so every event from now on is queued; the caller then replays up to here.

        Raises TooManyStreams when the user already holds `max_streams` streams on this replica.
        """
        subscriber = Subscriber(account_id, user_id, asyncio.Queue(self.client_buffer))
        async with self._lock:
            if max_streams is not None and self.streams_of(user_id) >= max_streams:
                raise TooManyStreams(max_streams)
            if account_id not in self._cursors:
                if self._directory_cursor is None:
                    self._directory_cursor = await self.bus.tip(DIRECTORY)
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
            if not self._cursors:
                self._directory_cursor = None  # notices of the time nobody listened concern nobody

    async def _run(self) -> None:
        backoff = 0.0
        while not self.closing:
            if not self._cursors:
                self._has_accounts.clear()
                await self._has_accounts.wait()
                continue
            try:
                cursors = dict(self._cursors)
                if self._directory_cursor is not None:
                    cursors[DIRECTORY] = self._directory_cursor
                found = await self.bus.tail(cursors, self.block_ms)
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
            if account_id == DIRECTORY:
                self._follow_directory(entry)
                continue
            if account_id not in self._cursors:
                continue
            if parse_id(entry.id) <= parse_id(self._cursors[account_id]):
                continue
            self._cursors[account_id] = entry.id
            frame: Frame = (parse_id(entry.id), event_frame(entry))
            SSE_EVENTS.inc()
            observe_latency(entry)
            for subscriber in list(self._subscribers.get(account_id, ())):
                subscriber.offer(frame)
            if len(found) > 1:
                await asyncio.sleep(0)  # let healthy writers drain a burst before the next event

    def _follow_directory(self, entry: StreamEntry) -> None:
        """A user was deleted, deactivated or demoted: their streams on this replica end now."""
        if self._directory_cursor is None or parse_id(entry.id) <= parse_id(self._directory_cursor):
            return
        self._directory_cursor = entry.id
        try:
            notice = msgspec.json.decode(entry.data, type=DirectoryNotice)
        except msgspec.DecodeError:
            log.warning("sse hub: unreadable directory notice %s", entry.id)
            return
        if not notice.may_stream:
            self._drop_user(notice.user_id, str(notice.account_id))

    def _drop_user(self, user_id: uuid.UUID, account_id: str | None = None) -> None:
        for account, subscribers in self._subscribers.items():
            if account_id is not None and account != account_id:
                continue
            for subscriber in subscribers:
                if subscriber.user_id == user_id:
                    subscriber.drop("directory")

    async def _watch_directory(self) -> None:
        """The safety net under the directory notices: re-check every stream holder every few seconds."""
        assert self.directory_check is not None
        while not self.closing:
            await asyncio.sleep(self.recheck_s)
            holders = {
                (s.user_id, uuid.UUID(s.account_id)) for subscribers in self._subscribers.values() for s in subscribers
            }
            if not holders:
                continue
            try:
                refused = await self.directory_check(holders)
            except Exception:
                log.warning("sse hub: directory re-check failed", exc_info=True)
                continue
            for user_id in refused:
                self._drop_user(user_id)
