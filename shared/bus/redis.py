"""The Redis Streams bus: `XADD` with approximate `MAXLEN`, `XRANGE` replay, one blocking `XREAD` tail."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError, ResponseError

from shared.bus.base import ZERO_ID, BusUnavailable, StreamEntry, parse_id, stream_key

# Publish once per dedupe key: the outbox relay is at-least-once, the stream must not be.
_PUBLISH_ONCE = """
local existing = redis.call('GET', KEYS[2])
if existing then return existing end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[2], 'data', ARGV[3])
redis.call('SET', KEYS[2], id, 'EX', ARGV[4])
return id
"""
DEDUPE_TTL_S = 7 * 24 * 3600


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(raw_id: Any, fields: Mapping[Any, Any]) -> StreamEntry:
    return StreamEntry(_decode(raw_id), _decode(fields.get(b"type", b"")), bytes(fields.get(b"data", b"")))


class RedisBus:
    """Commands go through a shared blocking pool; the tail has a connection of its own."""

    def __init__(
        self, pool: BlockingConnectionPool, *, tail_url: str, maxlen: int = 10000, block_ms: int = 5000
    ) -> None:
        self.maxlen = maxlen
        self.redis = Redis(connection_pool=pool)
        # The tail blocks for up to block_ms: its socket timeout must outlast that, or redis-py gives up first.
        self._tail_redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                tail_url,
                max_connections=1,
                socket_timeout=block_ms / 1000 + 10,
                socket_connect_timeout=5,
                client_name=pool.connection_kwargs.get("client_name"),
            )
        )
        self._control_key = f"handoff:hub:{{{uuid.uuid4()}}}"
        self._control_cursor = ZERO_ID
        self._publish_once = self.redis.register_script(_PUBLISH_ONCE)

    async def publish(self, account_id: str, event_type: str, data: bytes, *, dedupe_key: str | None = None) -> str:
        key = stream_key(account_id)
        try:
            if dedupe_key is None:
                raw = await self.redis.xadd(
                    key, {"type": event_type, "data": data}, maxlen=self.maxlen, approximate=True
                )
            else:
                # The dedupe key shares the stream's hash tag so the script's two keys live on one shard.
                once_key = f"handoff:published:{{{account_id}}}:{dedupe_key}"
                args: list[Any] = [self.maxlen, event_type, data, DEDUPE_TTL_S]
                raw = await self._publish_once(keys=[key, once_key], args=args)
        except RedisError as exc:
            raise BusUnavailable(f"could not publish to the event stream: {exc}") from exc
        return _decode(raw)

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
        streams = {stream_key(account): cursor for account, cursor in cursors.items()}
        streams[self._control_key] = self._control_cursor
        try:
            raw = await self._tail_redis.xread(streams, block=block_ms, count=500)  # type: ignore[arg-type]
        except RedisError as exc:
            raise BusUnavailable(str(exc)) from exc
        accounts = {stream_key(account): account for account in cursors}
        found: list[tuple[str, StreamEntry]] = []
        for raw_key, entries in raw or []:
            key = _decode(raw_key)
            if key == self._control_key:
                self._control_cursor = _decode(entries[-1][0])
                continue
            found.extend((accounts[key], _entry(entry_id, fields)) for entry_id, fields in entries)
        return found

    async def interrupt_tail(self) -> None:
        try:
            await self.redis.xadd(self._control_key, {"wake": 1}, maxlen=10, approximate=False)
            await self.redis.expire(self._control_key, 3600)
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
