"""The pace per destination, on Redis and in-process: the same contract for both."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio
from redis.asyncio import BlockingConnectionPool

from shared.pace import InProcessPace, Pace, RedisPace, pace_key
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


async def test_slots_follow_one_another_at_the_interval(pace: Pace) -> None:
    key = a_key()
    slots = [await pace.reserve(key, 1.0, max_wait_s=10) for _ in range(3)]
    assert all(slot.granted for slot in slots)
    waits = [slot.wait_s for slot in slots]
    assert waits[0] == pytest.approx(0, abs=0.05)
    assert waits[1] == pytest.approx(1.0, abs=0.05)
    assert waits[2] == pytest.approx(2.0, abs=0.05)
    other = await pace.reserve(a_key(), 1.0, max_wait_s=10)  # another destination has a pace of its own
    assert other.wait_s == pytest.approx(0, abs=0.05)


async def test_a_slot_too_far_away_is_refused_and_nothing_is_taken(pace: Pace) -> None:
    key = a_key()
    await pace.reserve(key, 5.0, max_wait_s=10)
    refused = await pace.reserve(key, 5.0, max_wait_s=1)
    assert not refused.granted
    assert refused.wait_s == pytest.approx(5.0, abs=0.05)
    granted = await pace.reserve(key, 5.0, max_wait_s=10)
    assert granted.wait_s == pytest.approx(5.0, abs=0.05)  # the refusal took no slot


async def test_a_retry_after_pushes_the_next_slot_out_never_in(pace: Pace) -> None:
    key = a_key()
    await pace.push_back(key, 3.0)
    assert (await pace.reserve(key, 0.25, max_wait_s=10)).wait_s == pytest.approx(3.0, abs=0.05)
    await pace.push_back(key, 0.5)  # sooner than the slot already taken: no change
    assert (await pace.reserve(key, 0.25, max_wait_s=10)).wait_s == pytest.approx(3.25, abs=0.05)


async def test_many_at_once_get_distinct_slots(pace: Pace) -> None:
    key = a_key()
    slots = await asyncio.gather(*(pace.reserve(key, 0.25, max_wait_s=10) for _ in range(12)))
    waits = sorted(slot.wait_s for slot in slots)
    assert all(b - a == pytest.approx(0.25, abs=0.02) for a, b in itertools.pairwise(waits))


async def test_redis_holds_a_hash_of_the_url_never_the_url() -> None:
    url = f"https://hooks.example.test/services/T1/B1/{secrets.token_hex(8)}"
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=2)
    await RedisPace(pool).reserve(pace_key(url), 1.0, max_wait_s=1)
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
