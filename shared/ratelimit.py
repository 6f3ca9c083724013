"""Per-user limits on mutating calls: counted in Redis across replicas, or in memory when embedded.

A fixed one-minute window per user. When Redis cannot be reached the call is let through: a limit
exists to protect the service, and refusing every change while Redis restarts would do more harm.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

log = logging.getLogger("handoff.ratelimit")
WINDOW_S = 60


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int) -> int | None:
        """Count one call; None when it is allowed, else the seconds until the window resets."""
        ...


def _window(now: float) -> tuple[int, int]:
    """The current window's number and the whole seconds left in it (at least 1)."""
    window = int(now // WINDOW_S)
    return window, max(1, int((window + 1) * WINDOW_S - now + 0.999))


class RedisRateLimiter:
    def __init__(self, pool: BlockingConnectionPool) -> None:
        self.redis = Redis(connection_pool=pool)

    async def hit(self, key: str, limit: int) -> int | None:
        window, left = _window(time.time())
        name = f"handoff:ratelimit:{{{key}}}:{window}"
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, WINDOW_S + 5)
                count, _ = await pipe.execute()
        except RedisError as exc:
            log.warning("rate limit not counted, Redis is unavailable: %s", exc)
            return None
        return left if int(count) > limit else None


class InMemoryRateLimiter:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int) -> int | None:
        window, left = _window(time.time())
        seen_window, count = self._counts.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._counts[key] = (window, count)
        if len(self._counts) > 10000:  # forget users of past windows
            self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
        return left if count > limit else None
