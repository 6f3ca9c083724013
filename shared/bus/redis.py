"""The Redis Streams bus: `XADD` with approximate `MAXLEN`, `XRANGE` replay, and a tail led by a doorbell.

Every publish also appends the account's id to one doorbell stream. A tail blocks on that one key,
whatever the number of accounts, and reads only the streams of the accounts it names that the
caller follows: the cost of an event does not grow with the accounts a replica serves, and every
command names one key, as Redis Cluster requires. A doorbell can be missed (a publisher stopped
between its two appends, the doorbell trimmed during an outage): the tail then also sweeps every
followed stream when it starts, after an error, and every `sweep_s` seconds.

With `min_replicas`, a publish counts only once `WAIT` says that many replicas hold the event; the doorbell
rings after that, so tails learn of an event once it is safe from a failover. An event the replicas did not
confirm raises EventNotReplicated with its id, and its next publish asks for that same id: if the old
master took the event with it, the new master gets it back under the id a dashboard may have seen.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import NoScriptError, RedisError, ResponseError

from shared.bus.base import (
    ZERO_ID,
    BusUnavailable,
    EventNotReplicated,
    Publish,
    StreamEntry,
    parse_id,
    stream_key,
)
from shared.redis_master import REPLICA_WAIT_MS, OneConnection, RedisMaster

# Publish once per dedupe key: the outbox relay is at-least-once, the stream must not be. ARGV[5] is the id an
# earlier, unconfirmed publish got ('' for none), taken while it is newer than the stream's newest event.
# A repeat writes the key's expiry again, so a `WAIT` after it also covers the first write.
_PUBLISH_ONCE = """
local existing = redis.call('GET', KEYS[2])
if existing then
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return existing
end
local id
if ARGV[5] ~= '' then
  id = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[5], 'type', ARGV[2], 'data', ARGV[3])
  if type(id) == 'table' and id.err then id = nil end
end
if not id then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[2], 'data', ARGV[3])
end
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
        master: RedisMaster,
        maxlen: int = 10000,
        block_ms: int = 5000,
        sweep_s: float = SWEEP_S,
        min_replicas: int = 0,
    ) -> None:
        self.maxlen = maxlen
        self.sweep_s = sweep_s
        self.min_replicas = min_replicas
        self.pool = pool
        self.redis = Redis(connection_pool=pool)
        # The tail blocks for up to block_ms: its socket timeout must outlast that, or redis-py gives up first.
        self._tail_redis = Redis.from_pool(master.pool(max_connections=1, socket_timeout=block_ms / 1000 + 10))
        self._doorbell_cursor: str | None = None
        self._next_sweep = 0.0
        self._unfinished: set[str] = set()  # accounts whose last read was cut at READ_COUNT
        self._publish_once = self.redis.register_script(_PUBLISH_ONCE)

    async def publish(
        self,
        account_id: str,
        event_type: str,
        data: bytes,
        *,
        dedupe_key: str | None = None,
        stream_id: str | None = None,
    ) -> str:
        append = self._append(account_id, event_type, data, dedupe_key, stream_id)
        try:
            if self.min_replicas:
                return await self._publish_replicated(account_id, append)
            try:
                raw = await self._publish(account_id, append)
            except NoScriptError:
                await self.redis.script_load(_PUBLISH_ONCE)  # a restarted or flushed server
                raw = await self._publish(account_id, append)
        except EventNotReplicated:
            raise
        except RedisError as exc:
            raise BusUnavailable(f"could not publish to the event stream: {exc}") from exc
        return _decode(raw)

    async def publish_many(self, events: Sequence[Publish]) -> None:
        """Every event, then one doorbell per account, in one round trip (a script missing on the server loaded and
        the round trip sent again: publish-once appends nothing twice). With `min_replicas`, one by one, each
        confirmed as `publish` confirms it."""
        if self.min_replicas or len(events) < 2:
            for event in events:
                await self.publish(*event[:3], dedupe_key=event.dedupe_key, stream_id=event.stream_id)
            return
        commands = [self._append(e.account_id, e.event_type, e.data, e.dedupe_key, e.stream_id) for e in events]
        commands += [self._doorbell(account_id) for account_id in dict.fromkeys(e.account_id for e in events)]
        try:
            try:
                await self._pipelined(commands)
            except NoScriptError:
                await self.redis.script_load(_PUBLISH_ONCE)  # a restarted or flushed server
                await self._pipelined(commands)
        except RedisError as exc:
            raise BusUnavailable(f"could not publish to the event stream: {exc}") from exc

    async def _pipelined(self, commands: list[list[Any]]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            await pipe.execute()

    def _append(
        self, account_id: str, event_type: str, data: bytes, dedupe_key: str | None, stream_id: str | None
    ) -> list[Any]:
        """The command that appends the event: a plain XADD, or the publish-once script (as EVALSHA)."""
        key = stream_key(account_id)
        if dedupe_key is None:
            return ["XADD", key, "MAXLEN", "~", self.maxlen, "*", "type", event_type, "data", data]
        # The dedupe key shares the stream's hash tag so the script's two keys live on one shard.
        once_key = f"handoff:published:{{{account_id}}}:{dedupe_key}"
        args = [self.maxlen, event_type, data, DEDUPE_TTL_S, stream_id or ""]
        return ["EVALSHA", self._publish_once.sha, 2, key, once_key, *args]

    def _doorbell(self, account_id: str) -> list[Any]:
        return ["XADD", DOORBELL, "MAXLEN", "~", DOORBELL_MAXLEN, "*", "a", account_id]

    async def _publish(self, account_id: str, append: list[Any]) -> Any:
        """One round trip: the event, then the doorbell that tells every tail to read this account."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.execute_command(*append)
            pipe.execute_command(*self._doorbell(account_id))
            raw, _ = await pipe.execute()
        return raw

    async def _publish_replicated(self, account_id: str, append: list[Any]) -> str:
        """The event and `WAIT` in one round trip on one connection; the doorbell only once replicas confirmed it."""
        if append[0] == "EVALSHA":
            append = ["EVAL", _PUBLISH_ONCE, *append[2:]]  # a new master after a failover has no scripts loaded
        async with OneConnection(self.pool) as connection:
            await connection.send(append, ["WAIT", self.min_replicas, REPLICA_WAIT_MS])
            entry_id = _decode(await connection.reply())
            try:
                confirmed = int(await connection.reply())
            except RedisError as exc:
                raise EventNotReplicated(
                    f"the event stream did not confirm {entry_id}: {exc}", stream_id=entry_id
                ) from exc
            if confirmed < self.min_replicas:
                raise EventNotReplicated(
                    f"{confirmed} of {self.min_replicas} Redis replicas confirmed event {entry_id} "
                    f"within {REPLICA_WAIT_MS} ms",
                    stream_id=entry_id,
                )
            await connection.send(self._doorbell(account_id))
            await connection.reply()
        return entry_id

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
