"""The Redis Streams bus: `XADD` with approximate `MAXLEN`, `XRANGE` replay, and a tail led by a doorbell.

Every publish also appends the account's id to one doorbell stream. A tail blocks on that one key,
whatever the number of accounts, and reads only the streams of the accounts it names that the
caller follows: the cost of an event does not grow with the accounts a replica serves, and every
command names one key, as Redis Cluster requires. A doorbell can be missed (a publisher stopped
between its two appends, the doorbell trimmed during an outage): the tail then also sweeps every
followed stream when it starts, after an error, and every `sweep_s` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from shared.bus.base import ZERO_ID, BusUnavailable, StreamEntry, parse_id, stream_key
from shared.bus.redis_connection import blocking_pool

# Publish once per dedupe key: the outbox relay is at-least-once, the stream must not be.
_PUBLISH_ONCE = """
local existing = redis.call('GET', KEYS[2])
if existing then return existing end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[2], 'data', ARGV[3])
redis.call('SET', KEYS[2], id, 'EX', ARGV[4])
return id
"""
DEDUPE_TTL_S = 7 * 24 * 3600
DOORBELL = "handoff:doorbell"
DOORBELL_MAXLEN = 10000
SWEEP_S = 30.0
READ_COUNT = 500


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(raw_id: Any, fields: Mapping[Any, Any]) -> StreamEntry:
    return StreamEntry(_decode(raw_id), _decode(fields.get(b"type", b"")), bytes(fields.get(b"data", b"")))


class RedisBus:
    """Commands go through a shared blocking pool; the tail has a connection of its own."""

    def __init__(
        self,
        pool: BlockingConnectionPool,
        *,
        tail_url: str,
        maxlen: int = 10000,
        block_ms: int = 5000,
        sweep_s: float = SWEEP_S,
    ) -> None:
        self.maxlen = maxlen
        self.sweep_s = sweep_s
        self.redis = Redis(connection_pool=pool)
        # The tail blocks for up to block_ms: its socket timeout must outlast that, or redis-py gives up first.
        self._tail_redis = Redis(
            connection_pool=blocking_pool(
                tail_url,
                max_connections=1,
                socket_timeout=block_ms / 1000 + 10,
                socket_connect_timeout=5,
                client_name=pool.connection_kwargs.get("client_name"),
            )
        )
        self._doorbell_cursor: str | None = None
        self._next_sweep = 0.0
        self._unfinished: set[str] = set()  # accounts whose last read was cut at READ_COUNT
        self._publish_once = self.redis.register_script(_PUBLISH_ONCE)

    async def publish(self, account_id: str, event_type: str, data: bytes, *, dedupe_key: str | None = None) -> str:
        key = stream_key(account_id)
        try:
            try:
                raw = await self._publish(key, account_id, event_type, data, dedupe_key)
            except NoScriptError:
                await self.redis.script_load(_PUBLISH_ONCE)  # a restarted or flushed server
                raw = await self._publish(key, account_id, event_type, data, dedupe_key)
        except RedisError as exc:
            raise BusUnavailable(f"could not publish to the event stream: {exc}") from exc
        return _decode(raw)

    async def _publish(self, key: str, account_id: str, event_type: str, data: bytes, dedupe_key: str | None) -> Any:
        """One round trip: the event, then the doorbell that tells every tail to read this account."""
        async with self.redis.pipeline(transaction=False) as pipe:
            if dedupe_key is None:
                pipe.xadd(key, {"type": event_type, "data": data}, maxlen=self.maxlen, approximate=True)
            else:
                # The dedupe key shares the stream's hash tag so the script's two keys live on one shard.
                once_key = f"handoff:published:{{{account_id}}}:{dedupe_key}"
                args: list[Any] = [key, once_key, self.maxlen, event_type, data, DEDUPE_TTL_S]
                pipe.evalsha(self._publish_once.sha, 2, *args)
            pipe.xadd(DOORBELL, {"a": account_id}, maxlen=DOORBELL_MAXLEN, approximate=True)
            raw, _ = await pipe.execute()
        return raw

    async def read_after(self, account_id: str, after_id: str, count: int = 500) -> list[StreamEntry]:
        try:
            raw = await self.redis.xrange(stream_key(account_id), min=f"({after_id}", max="+", count=count)
        except RedisError as exc:
            raise BusUnavailable(str(exc)) from exc
        return [_entry(entry_id, fields) for entry_id, fields in raw]

    async def tip(self, account_id: str) -> str:
        try:
            raw = await self.redis.xrevrange(stream_key(account_id), max="+", min="-", count=1)
        except RedisError as exc:
            raise BusUnavailable(str(exc)) from exc
        return _decode(raw[0][0]) if raw else ZERO_ID

    async def trimmed_after(self, account_id: str, after_id: str) -> bool:
        after = parse_id(after_id)
        try:
            info = await self.redis.execute_command(  # type: ignore[no-untyped-call]
                "XINFO", "STREAM", stream_key(account_id)
            )
        except ResponseError:
            return after > (0, 0)  # no such stream: whatever the client saw is gone
        except RedisError as exc:
            raise BusUnavailable(str(exc)) from exc
        fields = dict(zip(info[::2], info[1::2], strict=False)) if isinstance(info, list) else info
        by_name = {_decode(k): v for k, v in fields.items()}
        last = parse_id(_decode(by_name.get("last-generated-id", ZERO_ID)))
        if after > last:
            return True  # the client saw ids this stream never had: it was reset
        # Trimming removes the oldest entries and does not record their ids, so any removal
        # before the first kept entry may include events after `after`: the client resyncs.
        removed = int(by_name.get("entries-added", 0)) - int(by_name.get("length", 0))
        first = by_name.get("first-entry")
        first_id = parse_id(_decode(first[0])) if first else last
        return removed > 0 and after < first_id

    async def tail(self, cursors: Mapping[str, str], block_ms: int) -> list[tuple[str, StreamEntry]]:
        try:
            if self._doorbell_cursor is None:
                # The doorbell's tip first, then the sweep: whatever the sweep misses rings after the tip.
                self._doorbell_cursor = await self._doorbell_tip()
                self._next_sweep = 0.0
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + self.sweep_s
                found = await self._read(cursors, list(cursors))
                if found:
                    return found
            if self._unfinished:
                return await self._read(cursors, list(self._unfinished))
            deadline = time.monotonic() + block_ms / 1000
            while (remaining := deadline - time.monotonic()) > 0:
                raw = await self._tail_redis.xread(
                    {DOORBELL: self._doorbell_cursor}, block=max(1, int(remaining * 1000)), count=1000
                )
                rung, interrupted = self._answered(raw, cursors)
                if rung:
                    return await self._read(cursors, rung)
                if interrupted or not raw:
                    break
            return []  # the wait is over, or interrupted, with nothing for the accounts followed
        except RedisError as exc:
            self._doorbell_cursor = None  # sweep again once the bus is back: doorbells may have been missed
            raise BusUnavailable(str(exc)) from exc

    def _answered(self, raw: Any, cursors: Mapping[str, str]) -> tuple[list[str], bool]:
        """The followed accounts these doorbells name, in order, and whether one was an interrupt."""
        rung: dict[str, None] = {}
        interrupted = False
        for _, entries in raw or []:
            self._doorbell_cursor = _decode(entries[-1][0])
            for _, fields in entries:
                account = _decode(fields.get(b"a", b""))
                if not account:
                    interrupted = True
                elif account in cursors:
                    rung[account] = None
        return list(rung), interrupted

    async def _doorbell_tip(self) -> str:
        newest = await self.redis.xrevrange(DOORBELL, max="+", min="-", count=1)
        return _decode(newest[0][0]) if newest else ZERO_ID

    async def _read(self, cursors: Mapping[str, str], accounts: list[str]) -> list[tuple[str, StreamEntry]]:
        """What each account's stream holds after its cursor, one key per command, in one round trip."""
        wanted = [(a, cursors[a]) for a in accounts if a in cursors]
        found: list[tuple[str, StreamEntry]] = []
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            async with self.redis.pipeline(transaction=False) as pipe:
                for account, cursor in chunk:
                    pipe.xrange(stream_key(account), min=f"({cursor}", max="+", count=READ_COUNT)
                replies = await pipe.execute()
            for (account, _), entries in zip(chunk, replies, strict=True):
                if len(entries) >= READ_COUNT:
                    self._unfinished.add(account)
                else:
                    self._unfinished.discard(account)
                found.extend((account, _entry(entry_id, fields)) for entry_id, fields in entries)
        return found

    async def interrupt_tail(self) -> None:
        """Ring the doorbell with no account: every blocked tail returns (with nothing new for this one)."""
        try:
            await self.redis.xadd(DOORBELL, {"a": ""}, maxlen=DOORBELL_MAXLEN, approximate=True)
        except RedisError as exc:
            raise BusUnavailable(str(exc)) from exc

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except RedisError:
            return False

    async def close(self) -> None:
        await self._tail_redis.aclose()
        await self.redis.aclose()
