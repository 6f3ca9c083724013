"""The per-replica SSE hub: one tail over the streams of the accounts this replica serves.

Browsers never get a Redis connection of their own. One reader task waits on the bus for the
accounts that have local subscribers and frames each event once (and chunk-encodes it once). A live
stream whose socket takes it gets it written straight to its transport by the reader, with no task
woken per stream (see `direct`); one still replaying, with frames queued or a write held by flow
control gets it in its bounded buffer instead, and its writer is woken to send it in order. A client
whose buffer overflows is dropped; it reconnects with its last id and loses nothing, because the stream
keeps what it missed.

Per open stream the hub holds one small object, no timer and no buffer while nothing waits in it: a
single keep-alive task, ticking a few times per heartbeat, sends the `: ping` of streams that have been
idle for a heartbeat, ends those stuck in one write for longer than the write timeout, and those whose
token has expired.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from services.handoff_api.sse.direct import DirectWriter, chunk_of
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
WRITE_TIMEOUT_S = 10.0
# Why a stream ended when the client, not the server, ended it: not counted as a disconnect.
CLIENT_LEFT = "client_left"


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


@dataclass(eq=False, slots=True)
class Subscriber:
    """One open stream as the hub sees it: a bounded buffer of frames and a way to wake its writer."""

    account_id: str
    user_id: uuid.UUID
    limit: int
    # Made by the first frame that must wait, let go by the writer once it has sent them all: an empty
    # deque costs more than half a kilobyte, and most streams are idle most of the time.
    frames: deque[Frame] | None = None
    drop_reason: str | None = None
    replaying: bool = True
    lagged: bool = False
    ping_due: bool = False
    last_write: float = field(default_factory=time.monotonic)
    # The id of the newest event the client was sent (by the replay, its writer or the hub); older ones are dropped.
    sent: tuple[int, int] = (0, 0)
    sending_since: float | None = None
    # When (monotonic) the stream's token expires; the keep-alive ends the stream then.
    expires_at: float | None = None
    writer: asyncio.Task[None] | None = None
    direct: DirectWriter | None = None
    _waiter: asyncio.Future[None] | None = None

    def deliver(self, frame: Frame, chunk: bytes, now: float) -> None:
        """A live frame: straight to the socket when nothing is ahead of it, else into the buffer.

        One the client already has is dropped here: the replay may have read past where the hub's tail is.
        """
        direct = self.direct
        if (
            direct is not None
            and not self.replaying
            and not self.frames
            and self.sending_since is None
            and self.drop_reason is None
        ):
            if frame[0] <= self.sent:
                return
            if direct.write(frame[1], chunk):
                self.sent = frame[0]
                self.last_write = now
                return
        self.offer(frame)

    def drop(self, reason: str) -> None:
        """End the stream: wake its writer, or cancel it when it is stuck in a write."""
        if self.drop_reason is not None:
            return
        self.drop_reason = reason
        if self.sending_since is not None and self.writer is not None:
            self.writer.cancel()
        self.wake()

    def offer(self, frame: Frame) -> None:
        frames = self.frames
        if frames is None:
            frames = self.frames = deque()
        elif len(frames) >= self.limit:
            if self.replaying:
                self.lagged = True  # the replay reads the stream again; nothing is lost
            else:
                self.drop("slow")
            return
        frames.append(frame)
        self.wake()

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until a frame is offered, a ping is due, or the stream is dropped."""
        if self.frames or self.ping_due or self.drop_reason is not None:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


class SSEHub:
    def __init__(
        self,
        bus: Bus,
        *,
        client_buffer: int = 64,
        block_ms: int = 5000,
        directory_check: DirectoryCheck | None = None,
        recheck_s: float = 3.0,
        heartbeat_s: float = 25.0,
        write_timeout_s: float = WRITE_TIMEOUT_S,
    ) -> None:
        self.bus = bus
        self.client_buffer = client_buffer
        self.block_ms = block_ms
        self.directory_check = directory_check
        self.recheck_s = recheck_s
        self.heartbeat_s = heartbeat_s
        self.write_timeout_s = write_timeout_s
        # Per account, in the order the streams opened (a dict as an ordered set): fan-out serves them in turn.
        self._subscribers: dict[str, dict[Subscriber, None]] = defaultdict(dict)
        self._per_user: Counter[uuid.UUID] = Counter()
        # The bus reads this live: an account added while the tail waits is served from its next event.
        # Holds DIRECTORY too whenever any account is here.
        self._cursors: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self._has_accounts = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self.closing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sse-hub")
        if self._keepalive is None:
            self._keepalive = asyncio.create_task(self._keep_alive(), name="sse-keepalive")
        if self._watch is None and self.directory_check is not None:
            self._watch = asyncio.create_task(self._watch_directory(), name="sse-directory-watch")

    async def stop(self) -> None:
        """Drop every client (so open streams end and the server can stop), then the reader.

        Called twice at shutdown (the server's signal handler, then the app's lifespan): both wait for
        the one stop.
        """
        if self._stopped is None:
            self._stopped = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopped)

    async def _stop(self) -> None:
        self.closing = True
        for subscribers in self._subscribers.values():
            for subscriber in subscribers:
                subscriber.drop("shutdown")
        for task in (self._watch, self._keepalive):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._watch = self._keepalive = None
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
        """Register first, so every event from now on is buffered; the caller then replays up to here.

        Raises TooManyStreams when the user already holds `max_streams` streams on this replica.
        """
        subscriber = Subscriber(account_id, user_id, self.client_buffer)
        async with self._lock:
            if max_streams is not None and self._per_user[user_id] >= max_streams:
                raise TooManyStreams(max_streams)
            if account_id not in self._cursors:
                if DIRECTORY not in self._cursors:
                    self._cursors[DIRECTORY] = await self.bus.tip(DIRECTORY)
                self._cursors[account_id] = await self.bus.tip(account_id)
                self._has_accounts.set()
            self._subscribers[account_id][subscriber] = None
            self._per_user[user_id] += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(subscriber.account_id)
        if subscribers is None or subscriber not in subscribers:
            return
        del subscribers[subscriber]
        self._per_user[subscriber.user_id] -= 1
        if self._per_user[subscriber.user_id] <= 0:
            del self._per_user[subscriber.user_id]
        if not subscribers:
            del self._subscribers[subscriber.account_id]
            self._cursors.pop(subscriber.account_id, None)
            if not self._subscribers:
                self._cursors.clear()  # directory notices of the time nobody listened concern nobody

    async def _run(self) -> None:
        backoff = 0.0
        while not self.closing:
            if not self._subscribers:
                self._has_accounts.clear()
                await self._has_accounts.wait()
                continue
            try:
                found = await self.bus.tail(self._cursors, self.block_ms)
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
            cursor = self._cursors.get(account_id)
            if cursor is None:
                continue
            entry_id = parse_id(entry.id)
            if entry_id <= parse_id(cursor):
                continue
            self._cursors[account_id] = entry.id
            body = event_frame(entry)
            frame: Frame = (entry_id, body)
            chunk = chunk_of(body)
            now = time.monotonic()
            for subscriber in list(self._subscribers.get(account_id, ())):
                subscriber.deliver(frame, chunk, now)
            SSE_EVENTS.inc()
            observe_latency(entry)
            if len(found) > 1:
                await asyncio.sleep(0)  # let healthy writers drain a burst before the next event

    def _follow_directory(self, entry: StreamEntry) -> None:
        """A user was deleted, deactivated or demoted: their streams on this replica end now."""
        cursor = self._cursors.get(DIRECTORY)
        if cursor is None or parse_id(entry.id) <= parse_id(cursor):
            return
        self._cursors[DIRECTORY] = entry.id
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

    async def _keep_alive(self) -> None:
        """Pings for streams idle for a heartbeat; the end of those stuck in one write too long or past their token."""
        tick = min(1.0, self.heartbeat_s / 10, self.write_timeout_s / 10)
        while not self.closing:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for subscribers in list(self._subscribers.values()):
                for subscriber in subscribers:
                    if subscriber.expires_at is not None and now >= subscriber.expires_at:
                        subscriber.drop("token_expired")
                    elif subscriber.sending_since is not None:
                        if now - subscriber.sending_since > self.write_timeout_s:
                            subscriber.drop("write_timeout")
                    elif not subscriber.replaying and now - subscriber.last_write >= self.heartbeat_s:
                        subscriber.ping_due = True
                        subscriber.wake()

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
