"""A pace per destination, kept across every worker: posts to one destination go one at a time, an interval apart.

A post asks to start at the very moment it is about to be sent; the check and the booking are one atomic step (a
Lua script on Redis, whose clock every process shares; a dictionary in the embedded default). If it may start, the
destination is held for it until it finishes (or `hold_s` passes, should its worker die); when it finishes, the
next post may start `interval` later, or later still when the far end asked for that (a 429's Retry-After). Counting
the interval from the answer, not from the start, keeps the far end's own view of the pace: a post that is slow to
leave a busy worker cannot arrive just before the next one.

Keys are derived from what names the destination (a webhook URL) by hashing it: the URL itself, a credential, is
never written to Redis.
"""

from __future__ import annotations

import asyncio
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
class Start:
    """`wait_s` 0: the post started. Otherwise nothing started, and a post may start in `wait_s`, or sooner when
    the destination is `held` by a post on its way (its answer ends the hold)."""

    wait_s: float
    held: bool = False


class Pace(Protocol):
    async def try_start(self, key: str, token: str, hold_s: float) -> Start:
        """Start the post `token` if it may start now, holding the destination for it (at most `hold_s`)."""
        ...

    async def finish(self, key: str, token: str, after_s: float) -> None:
        """The post `token` is over: the next may start `after_s` from now (never sooner than someone else asked)."""
        ...


# A post waiting for a held destination asks again this often: the hold ends with an answer nobody can foresee.
POLL_S = 0.1


async def wait_to_start(pace: Pace, key: str, token: str, *, hold_s: float, max_wait_s: float) -> float | None:
    """Wait until the post `token` may start, and start it; None once started. If that is more than `max_wait_s`
    away, the seconds it may still be (nothing started)."""
    deadline = time.monotonic() + max_wait_s
    while True:
        start = await pace.try_start(key, token, hold_s)
        if start.wait_s <= 0:
            return None
        now = time.monotonic()
        if now >= deadline or (not start.held and now + start.wait_s > deadline):
            return start.wait_s
        await asyncio.sleep(min(start.wait_s, POLL_S, deadline - now) if start.held else start.wait_s)


# Redis's clock is the one clock every worker shares. Field `f`: when the next post may start (ms); `t`: the post
# holding the destination until it finishes.
_NOW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
"""
# ARGV: the hold in ms, the post's token. Answers {0, 0} (started, held for it) or {the ms until a start is
# possible, 1 if a post holds the destination}.
_TRY_START = (
    _NOW
    + """
local free = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
if now_ms < free then
  local holder = redis.call('HGET', KEYS[1], 't')
  return {free - now_ms, (holder and holder ~= '') and 1 or 0}
end
redis.call('HSET', KEYS[1], 'f', now_ms + tonumber(ARGV[1]), 't', ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 1000)
return {0, 0}
"""
)
# ARGV: the ms until the next start, the post's token. The holder ends its hold; anyone else only pushes out.
_FINISH = (
    _NOW
    + """
local at = now_ms + tonumber(ARGV[1])
local free = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
if redis.call('HGET', KEYS[1], 't') == ARGV[2] then
  redis.call('HSET', KEYS[1], 'f', at, 't', '')
elseif at > free then
  redis.call('HSET', KEYS[1], 'f', at)
else
  at = free
end
redis.call('PEXPIRE', KEYS[1], at - now_ms + 1000)
return at - now_ms
"""
)


class RedisPace:
    """The pace kept in Redis, shared by every process on it. A Redis that cannot be reached lets the post through:
    the far end's own 429 is the worst that can follow, and it is retried."""

    def __init__(self, pool: BlockingConnectionPool) -> None:
        self.redis = Redis(connection_pool=pool)
        self._try_start = self.redis.register_script(_TRY_START)
        self._finish = self.redis.register_script(_FINISH)

    async def try_start(self, key: str, token: str, hold_s: float) -> Start:
        try:
            wait_ms, held = await self._try_start(keys=[key], args=[_ms(hold_s), token])
        except RedisError as exc:
            log.warning("pace not kept, Redis is unavailable: %s", exc)
            return Start(0.0)
        return Start(int(wait_ms) / 1000, held=bool(int(held)))

    async def finish(self, key: str, token: str, after_s: float) -> None:
        try:
            await self._finish(keys=[key], args=[_ms(after_s), token])
        except RedisError as exc:
            log.warning("pace not kept, Redis is unavailable: %s", exc)


class InProcessPace:
    """The pace kept in this process: the embedded default, where one process makes every post."""

    def __init__(self) -> None:
        self._free: dict[str, tuple[float, str]] = {}  # key -> (when the next may start, who holds it)

    async def try_start(self, key: str, token: str, hold_s: float) -> Start:
        now = time.monotonic()
        free, holder = self._free.get(key, (0.0, ""))
        if now < free:
            return Start(free - now, held=bool(holder))
        self._free[key] = (now + hold_s, token)
        if len(self._free) > 10000:  # forget destinations whose next start has passed
            self._free = {k: v for k, v in self._free.items() if v[0] > now}
        return Start(0.0)

    async def finish(self, key: str, token: str, after_s: float) -> None:
        at = time.monotonic() + after_s
        free, holder = self._free.get(key, (0.0, ""))
        self._free[key] = (at, "") if holder == token else (max(free, at), holder)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))
