"""A pace per destination, kept across every worker: each post takes the next free slot of its destination.

A slot is reserved atomically (a Lua script on Redis, whose own clock every process shares; a dictionary in the
embedded default), at least `interval_s` after the one before it. The caller waits until its slot and then sends,
so however many workers post to one destination, their posts start at least `interval_s` apart. A far end that
answers 429 pushes the destination's next slot out by its Retry-After.

Keys are derived from what names the destination (a webhook URL) by hashing it: the URL itself, a credential, is
never written to Redis.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

log = logging.getLogger("handoff.pace")
KEY_PREFIX = "handoff:pace:"


def pace_key(secret_name: str) -> str:
    """The key of a destination named by `secret_name` (a URL): a hash, never the name itself."""
    return KEY_PREFIX + hashlib.sha256(secret_name.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Slot:
    """A reservation: `granted`, starting in `wait_s`; or refused, the next free slot being `wait_s` away."""

    granted: bool
    wait_s: float


class Pace(Protocol):
    async def reserve(self, key: str, interval_s: float, *, max_wait_s: float) -> Slot:
        """Take the next slot of `key`, at least `interval_s` after the previous one, unless it is more than
        `max_wait_s` away (then nothing is taken)."""
        ...

    async def push_back(self, key: str, delay_s: float) -> None:
        """Let no slot of `key` start sooner than `delay_s` from now."""
        ...


# KEYS[1]: the destination; ARGV: interval and longest wait, in ms. Answers the wait in ms, or -1 - the wait when
# refused. Redis's clock is the one clock every worker shares.
_RESERVE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now_ms, free)
local wait = at - now_ms
if wait > tonumber(ARGV[2]) then
  return -1 - wait
end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], at + interval, 'PX', wait + interval + 1000)
return wait
"""
# KEYS[1]: the destination; ARGV[1]: the delay in ms. Moves the next free slot out, never in.
_PUSH_BACK = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = now_ms + tonumber(ARGV[1])
if at > free then
  redis.call('SET', KEYS[1], at, 'PX', tonumber(ARGV[1]) + 1000)
end
return at - now_ms
"""


class RedisPace:
    """Slots kept in Redis, shared by every process on it. A Redis that cannot be reached lets the post through:
    the far end's own 429 is the worst that can follow, and it is retried."""

    def __init__(self, pool: BlockingConnectionPool) -> None:
        self.redis = Redis(connection_pool=pool)
        self._reserve = self.redis.register_script(_RESERVE)
        self._push_back = self.redis.register_script(_PUSH_BACK)

    async def reserve(self, key: str, interval_s: float, *, max_wait_s: float) -> Slot:
        try:
            answer = int(await self._reserve(keys=[key], args=[_ms(interval_s), _ms(max_wait_s)]))
        except RedisError as exc:
            log.warning("pace not kept, Redis is unavailable: %s", exc)
            return Slot(granted=True, wait_s=0.0)
        if answer < 0:
            return Slot(granted=False, wait_s=(-1 - answer) / 1000)
        return Slot(granted=True, wait_s=answer / 1000)

    async def push_back(self, key: str, delay_s: float) -> None:
        try:
            await self._push_back(keys=[key], args=[_ms(delay_s)])
        except RedisError as exc:
            log.warning("pace not pushed back, Redis is unavailable: %s", exc)


class InProcessPace:
    """Slots kept in this process: the embedded default, where one process does every post."""

    def __init__(self) -> None:
        self._free_at: dict[str, float] = {}

    async def reserve(self, key: str, interval_s: float, *, max_wait_s: float) -> Slot:
        now = time.monotonic()
        at = max(now, self._free_at.get(key, 0.0))
        if at - now > max_wait_s:
            return Slot(granted=False, wait_s=at - now)
        self._free_at[key] = at + interval_s
        self._forget_past(now)
        return Slot(granted=True, wait_s=at - now)

    async def push_back(self, key: str, delay_s: float) -> None:
        self._free_at[key] = max(self._free_at.get(key, 0.0), time.monotonic() + delay_s)

    def _forget_past(self, now: float) -> None:
        if len(self._free_at) > 10000:
            self._free_at = {key: at for key, at in self._free_at.items() if at > now}


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
