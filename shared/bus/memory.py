"""The in-process bus of the embedded default: the same semantics as the Redis one, in memory."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.bus.base import ZERO_ID, Publish, StreamEntry, parse_id


@dataclass
class _Wakeup:
    event: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted: bool = False


@dataclass
class _Stream:
    entries: deque[StreamEntry] = field(default_factory=deque)
    last: tuple[int, int] = (0, 0)
    max_deleted: tuple[int, int] = (0, 0)


# A re-sent outbox row comes back within moments; remembering the latest keys is enough to dedupe it.
REMEMBERED_KEYS = 10000


class InProcessBus:
    """Per-account streams with Redis-style ids, exact MAXLEN retention and blocking tails.

    Memory stays bounded: each stream keeps `maxlen` entries and the dedupe memory the latest
    `remembered_keys` keys, however long the process runs.
    """

    def __init__(self, *, maxlen: int = 10000, remembered_keys: int = REMEMBERED_KEYS) -> None:
        self.maxlen = maxlen
        self.remembered_keys = remembered_keys
        self._streams: dict[str, _Stream] = {}
        self._published: OrderedDict[str, str] = OrderedDict()
        self._wakeup = _Wakeup()

    def _next_id(self, stream: _Stream) -> tuple[int, int]:
        now = time.time_ns() // 1_000_000
        return (now, 0) if now > stream.last[0] else (stream.last[0], stream.last[1] + 1)

    async def publish(
        self,
        account_id: str,
        event_type: str,
        data: bytes,
        *,
        dedupe_key: str | None = None,
        stream_id: str | None = None,
    ) -> str:
        if dedupe_key is not None and dedupe_key in self._published:
            return self._published[dedupe_key]
        stream = self._streams.setdefault(account_id, _Stream())
        wanted = parse_id(stream_id) if stream_id is not None and dedupe_key is not None else None
        stream.last = wanted if wanted is not None and wanted > stream.last else self._next_id(stream)
        entry = StreamEntry(f"{stream.last[0]}-{stream.last[1]}", event_type, data)
        stream.entries.append(entry)
        while len(stream.entries) > self.maxlen:
            stream.max_deleted = parse_id(stream.entries.popleft().id)
        if dedupe_key is not None:
            self._published[dedupe_key] = entry.id
            while len(self._published) > self.remembered_keys:
                self._published.popitem(last=False)
        self._wake_tails()
        return entry.id

    async def publish_many(self, events: Sequence[Publish]) -> None:
        for event in events:
            await self.publish(*event[:3], dedupe_key=event.dedupe_key, stream_id=event.stream_id)

    def _wake_tails(self, *, interrupt: bool = False) -> None:
        woken, self._wakeup = self._wakeup, _Wakeup()
        woken.interrupted = interrupt
        woken.event.set()

    async def read_after(self, account_id: str, after_id: str, count: int = 500) -> list[StreamEntry]:
        stream = self._streams.get(account_id)
        if stream is None:
            return []
        after = parse_id(after_id)
        newer = (e for e in stream.entries if parse_id(e.id) > after)
        return [e for _, e in zip(range(count), newer, strict=False)]

    async def tip(self, account_id: str) -> str:
        stream = self._streams.get(account_id)
        if stream is None or stream.last == (0, 0):
            return ZERO_ID
        return f"{stream.last[0]}-{stream.last[1]}"

    async def trimmed_after(self, account_id: str, after_id: str) -> bool:
        after = parse_id(after_id)
        stream = self._streams.get(account_id)
        if stream is None:
            return after > (0, 0)
        return stream.max_deleted > after or after > stream.last

    async def tail(self, cursors: Mapping[str, str], block_ms: int) -> list[tuple[str, StreamEntry]]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            wakeup = self._wakeup
            following = list(cursors.items())
            found = [(account, e) for account, cursor in following for e in await self.read_after(account, cursor)]
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(wakeup.event.wait(), remaining)
            except TimeoutError:
                return []
            if wakeup.interrupted:
                return []

    def held(self) -> tuple[int, int]:
        """What it holds in memory: stream entries, and dedupe keys."""
        return sum(len(s.entries) for s in self._streams.values()), len(self._published)

    async def interrupt_tail(self) -> None:
        self._wake_tails(interrupt=True)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._wake_tails()
