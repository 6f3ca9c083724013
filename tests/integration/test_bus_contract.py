"""One contract, two buses: the Redis Streams bus and the in-process one behave the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import BlockingConnectionPool

from shared.bus.base import Bus, Publish, StreamEntry, parse_id, stream_key
from shared.bus.memory import InProcessBus
from shared.bus.redis import RedisBus
from shared.redis_master import RedisMaster
from tests.conftest import REDIS_URL
from tests.support.events import tail_blocked
from tests.support.processes import RedisServer
from tests.support.waiting import eventually

MAXLEN = 50


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        memory = InProcessBus(maxlen=MAXLEN)
        yield memory
        await memory.close()
        return
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=4)
    redis_bus = RedisBus(pool, master=RedisMaster(REDIS_URL), maxlen=MAXLEN)
    yield redis_bus
    await redis_bus.close()
    await pool.aclose()


def account() -> str:
    return str(uuid.uuid4())


async def parked(bus: Bus, tail: asyncio.Task[list[tuple[str, StreamEntry]]]) -> None:
    """Until `tail` waits for news: on Redis, blocked in its XREAD of the doorbell; in process, on its wake-up."""
    if isinstance(bus, RedisBus):
        await eventually(lambda: tail_blocked(bus), 5, "the tail to block on the doorbell")
    else:
        await asyncio.sleep(0)  # yield: the in-process tail does no I/O, so one turn of the loop parks it
    assert not tail.done()


async def test_ids_increase_and_replay_is_exclusive(bus: Bus) -> None:
    acc = account()
    assert await bus.tip(acc) == "0-0"
    ids = [await bus.publish(acc, "handoff_created", b'{"n": %d}' % i) for i in range(5)]
    assert [parse_id(i) for i in ids] == sorted(parse_id(i) for i in ids)
    assert len(set(ids)) == 5
    assert await bus.tip(acc) == ids[-1]
    after = await bus.read_after(acc, ids[1])
    assert [e.id for e in after] == ids[2:]
    assert after[0].type == "handoff_created"
    assert after[0].data == b'{"n": 2}'
    assert [e.id for e in await bus.read_after(acc, "0-0", count=2)] == ids[:2]
    assert await bus.read_after(acc, ids[-1]) == []


async def test_accounts_do_not_share_streams(bus: Bus) -> None:
    first, second = account(), account()
    await bus.publish(first, "handoff_created", b"{}")
    assert await bus.read_after(second, "0-0") == []
    assert await bus.tip(second) == "0-0"


async def test_dedupe_key_publishes_once(bus: Bus) -> None:
    acc = account()
    first = await bus.publish(acc, "handoff_created", b"{}", dedupe_key="outbox:1")
    again = await bus.publish(acc, "handoff_created", b"{}", dedupe_key="outbox:1")
    assert first == again
    assert len(await bus.read_after(acc, "0-0")) == 1


async def test_an_event_published_again_keeps_the_id_it_asks_for_while_that_is_newest(bus: Bus) -> None:
    """As after a failover that took the event: it comes back under the id a dashboard may have seen."""
    acc = account()
    older = await bus.publish(acc, "handoff_created", b"{}", dedupe_key="outbox:10")
    ms, _ = parse_id(older)
    wanted = f"{ms + 60_000}-7"  # the id the event got on a master that is gone
    kept = await bus.publish(acc, "handoff_paged", b"{}", dedupe_key="outbox:11", stream_id=wanted)
    assert kept == wanted
    assert await bus.publish(acc, "handoff_paged", b"{}", dedupe_key="outbox:11", stream_id=wanted) == wanted
    # An id the stream has already passed cannot be taken: the event gets a new one after the newest.
    moved = await bus.publish(acc, "handoff_claimed", b"{}", dedupe_key="outbox:12", stream_id=older)
    assert parse_id(moved) > parse_id(kept)
    assert [e.id for e in await bus.read_after(acc, "0-0")] == [older, kept, moved]


async def test_retention_and_trim_detection(bus: Bus) -> None:
    acc = account()
    ids = [await bus.publish(acc, "handoff_created", b"{}") for _ in range(MAXLEN * 4)]
    kept = await bus.read_after(acc, "0-0", count=10_000)
    assert MAXLEN <= len(kept) < MAXLEN * 4  # Redis trims approximately, whole nodes at a time
    assert kept[-1].id == ids[-1]
    assert await bus.trimmed_after(acc, ids[0]) is True
    assert await bus.trimmed_after(acc, ids[-2]) is False
    assert await bus.trimmed_after(acc, ids[-1]) is False
    assert await bus.trimmed_after(account(), "0-0") is False
    assert await bus.trimmed_after(account(), ids[0]) is True  # a stream that no longer exists


async def test_tail_blocks_until_an_event_and_can_be_interrupted(bus: Bus) -> None:
    acc, other = account(), account()
    cursors = {acc: await bus.tip(acc), other: "0-0"}
    waiting = asyncio.create_task(bus.tail(cursors, block_ms=5000))
    await parked(bus, waiting)
    published = await bus.publish(acc, "handoff_claimed", b"{}")
    found = await asyncio.wait_for(waiting, 2)
    assert [(a, e.id) for a, e in found] == [(acc, published)]

    interrupted = asyncio.create_task(bus.tail({acc: published}, block_ms=5000))
    await parked(bus, interrupted)
    await bus.interrupt_tail()
    assert await asyncio.wait_for(interrupted, 2) == []
    assert await bus.tail({acc: published}, block_ms=50) == []
    assert await bus.ping() is True


async def test_the_in_process_bus_holds_a_bounded_history() -> None:
    memory = InProcessBus(maxlen=MAXLEN, remembered_keys=100)
    accounts = [account() for _ in range(3)]
    for n in range(1000):
        await memory.publish(accounts[n % 3], "handoff_created", b"{}", dedupe_key=f"outbox:{n}")
    entries, keys = memory.held()
    print(f"\nafter 1000 publishes: {entries} stream entries and {keys} dedupe keys held")
    assert entries == 3 * MAXLEN
    assert keys == 100
    # The latest keys still dedupe: a re-sent row is not published twice.
    tip = await memory.tip(accounts[999 % 3])
    assert await memory.publish(accounts[999 % 3], "handoff_created", b"{}", dedupe_key="outbox:999") == tip
    assert await memory.tip(accounts[999 % 3]) == tip
    await memory.close()


async def test_an_account_added_while_the_tail_waits_is_served(bus: Bus) -> None:
    acc, added = account(), account()
    cursors = {acc: await bus.tip(acc)}
    waiting = asyncio.create_task(bus.tail(cursors, block_ms=5000))
    await parked(bus, waiting)
    cursors[added] = await bus.tip(added)  # the caller's live dict: a subscriber of a new account
    published = await bus.publish(added, "handoff_created", b"{}")
    found = await asyncio.wait_for(waiting, 2)
    assert [(a, e.id) for a, e in found] == [(added, published)]


async def test_one_account_among_thousands_is_served_alone(bus: Bus) -> None:
    followed = [account() for _ in range(2000)]
    cursors = {acc: "0-0" for acc in followed}
    assert await bus.tail(cursors, block_ms=50) == []
    waiting = asyncio.create_task(bus.tail(cursors, block_ms=5000))
    await parked(bus, waiting)
    await bus.publish(account(), "handoff_created", b"{}")  # an account nobody here follows
    published = await bus.publish(followed[1234], "handoff_created", b"{}")
    found = await asyncio.wait_for(waiting, 2)
    assert [(a, e.id) for a, e in found] == [(followed[1234], published)]


async def test_an_event_whose_doorbell_never_rang_is_found_by_the_sweep() -> None:
    """A publisher that stopped between the event and its doorbell: the tail's sweep still finds it."""
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=4)
    bus = RedisBus(pool, master=RedisMaster(REDIS_URL), maxlen=MAXLEN, sweep_s=0.3)
    acc = account()
    try:
        cursors = {acc: "0-0"}
        assert await bus.tail(cursors, block_ms=50) == []
        raw_id = (await bus.redis.xadd(stream_key(acc), {"type": "handoff_created", "data": b"{}"})).decode()
        found: list[tuple[str, StreamEntry]] = []
        async with asyncio.timeout(5):
            while not found:
                found = await bus.tail(cursors, block_ms=100)
        assert [(a, e.id) for a, e in found] == [(acc, raw_id)]
    finally:
        await bus.close()
        await pool.aclose()


async def test_a_batch_publishes_in_order_and_again_appends_nothing(bus: Bus) -> None:
    """What the outbox relay sends in one go: every event once, in order, across accounts; the same batch sent again
    (after a failure that left unsaid which went out) appends none twice."""
    first, second = account(), account()
    batch = [
        Publish(first, "handoff_created", b'{"n": 1}', "outbox:101"),
        Publish(second, "handoff_created", b'{"n": 2}', "outbox:102"),
        Publish(first, "handoff_paged", b'{"n": 3}', "outbox:103"),
    ]
    await bus.publish_many(batch)
    await bus.publish_many(batch)
    mine = await bus.read_after(first, "0-0")
    assert [(e.type, e.data) for e in mine] == [("handoff_created", b'{"n": 1}'), ("handoff_paged", b'{"n": 3}')]
    assert [(e.type, e.data) for e in await bus.read_after(second, "0-0")] == [("handoff_created", b'{"n": 2}')]
    assert await bus.tip(first) == mine[-1].id


async def test_a_batch_on_a_server_that_lost_its_scripts_loads_them_and_goes_out_once(tmp_path: Path) -> None:
    own = RedisServer(tmp_path)
    own.start()
    pool = BlockingConnectionPool.from_url(own.url, max_connections=4)
    bus = RedisBus(pool, master=RedisMaster(own.url), maxlen=MAXLEN)
    try:
        acc = account()
        await bus.publish(acc, "handoff_created", b"{}", dedupe_key="outbox:1")
        await bus.redis.script_flush()  # as a restarted server, or a failover to a replica that never ran it
        await bus.publish_many(
            [Publish(acc, "handoff_created", b"{}", "outbox:1"), Publish(acc, "handoff_paged", b"{}", "outbox:2")]
        )
        assert [e.type for e in await bus.read_after(acc, "0-0")] == ["handoff_created", "handoff_paged"]
    finally:
        await bus.close()
        await pool.aclose()
        own.stop()
