"""The pace per destination, on Redis and in-process: the same contract for both."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from redis.asyncio import BlockingConnectionPool

from shared.pace import InProcessPace, Pace, RedisPace, Start, pace_key, wait_to_start
from tests.conftest import REDIS_URL


@pytest.fixture(params=["redis", "in-process"])
async def pace(request: pytest.FixtureRequest) -> AsyncIterator[Pace]:
    if request.param == "in-process":
        yield InProcessPace()
        return
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=8)
    yield RedisPace(pool)
    await pool.aclose()


def a_key() -> str:
    return pace_key(f"https://hooks.example.test/services/T1/B1/{secrets.token_hex(8)}")


async def test_one_post_at_a_time_and_the_next_an_interval_after_the_answer(pace: Pace) -> None:
    key = a_key()
    assert await pace.try_start(key, "first", 30) == Start(0)
    held = await pace.try_start(key, "second", 30)
    assert held.held  # while the first is on its way
    assert held.wait_s == pytest.approx(30, abs=0.1)
    assert await pace.try_start(a_key(), "elsewhere", 30) == Start(0)  # another destination has a pace of its own
    await pace.finish(key, "first", 1.0)
    wait = await pace.try_start(key, "second", 30)
    assert not wait.held
    assert wait.wait_s == pytest.approx(1.0, abs=0.05)  # counted from the answer
    again = await pace.try_start(key, "second", 30)
    assert again.wait_s == pytest.approx(wait.wait_s, abs=0.05)  # asking booked nothing
    await asyncio.sleep(again.wait_s)  # real time must pass: the pace counts on the Redis server's clock
    assert await pace.try_start(key, "second", 30) == Start(0)


async def test_a_retry_after_pushes_the_next_start_out_and_a_stranger_never_shortens_a_hold(pace: Pace) -> None:
    key = a_key()
    assert await pace.try_start(key, "first", 30) == Start(0)
    await pace.finish(key, "first", 3.0)  # the far end said: not for 3 s
    assert (await pace.try_start(key, "next", 30)).wait_s == pytest.approx(3.0, abs=0.05)
    await pace.finish(key, "stale", 0.5)  # not the holder, and sooner: no change
    assert (await pace.try_start(key, "next", 30)).wait_s == pytest.approx(3.0, abs=0.05)

    other = a_key()
    assert await pace.try_start(other, "holder", 30) == Start(0)
    await pace.finish(other, "stale", 1.0)  # a post whose hold ran out cannot end the current one's
    assert (await pace.try_start(other, "next", 30)).held


async def test_many_waiting_at_once_go_one_by_one(pace: Pace) -> None:
    key = a_key()
    spans: list[tuple[float, float]] = []

    async def post(token: str) -> None:
        assert await wait_to_start(pace, key, token, hold_s=30, max_wait_s=10) is None
        began = time.monotonic()
        await asyncio.sleep(0.05)  # simulated work: the post on its way to the far end
        spans.append((began, time.monotonic()))
        await pace.finish(key, token, 0.25)

    await asyncio.gather(*(post(f"post-{i}") for i in range(6)))
    spans.sort()
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans)]  # from one answer to the next start
    assert min(gaps) >= 0.24
    assert max(gaps) < 0.5  # and no slower than it has to be


async def test_a_start_too_far_away_is_given_up_without_booking(pace: Pace) -> None:
    key = a_key()
    assert await wait_to_start(pace, key, "first", hold_s=30, max_wait_s=1) is None
    await pace.finish(key, "first", 5.0)
    still = await wait_to_start(pace, key, "second", hold_s=30, max_wait_s=1)
    assert still == pytest.approx(5.0, abs=0.05)
    assert (await pace.try_start(key, "third", 30)).wait_s == pytest.approx(5.0, abs=0.05)


async def test_redis_holds_a_hash_of_the_url_never_the_url() -> None:
    url = f"https://hooks.example.test/services/T1/B1/{secrets.token_hex(8)}"
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=2)
    redis_pace = RedisPace(pool)
    assert await redis_pace.try_start(pace_key(url), "post", 30) == Start(0)
    await redis_pace.finish(pace_key(url), "post", 1.0)
    await pool.aclose()
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        keys = [key.decode() async for key in client.scan_iter("handoff:pace:*")]
        assert pace_key(url) in keys
        assert not [key for key in keys if "hooks" in key or url.rsplit("/", 1)[-1] in key]
        ttl = await client.pttl(pace_key(url))
        assert 0 < ttl <= 2000  # it goes away on its own once the slot has passed
    finally:
        await client.aclose()
