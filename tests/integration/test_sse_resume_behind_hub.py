"""A resumed stream whose replay read further than the hub had: the hub's late copies are never sent again.

The hub learns of events from the doorbell; one whose doorbell was lost (a failover took it) reaches the hub
only with the next doorbell of its account or the sweep, possibly after a stream resuming with Last-Event-ID
has replayed it from the account's stream. Each event still reaches each stream exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from shared.bus.base import stream_key
from tests.conftest import JWT_SECRET, REDIS_URL
from tests.support.servers import serving
from tests.support.sse import SSEClient
from tests.support.tenants import mint_token


@pytest.fixture
async def port(runtimes: dict[str, Runtime]) -> AsyncIterator[int]:
    async with serving(create_app(runtimes["postgresql"].settings, runtime=runtimes["postgresql"])) as bound:
        yield bound


async def test_events_the_replay_sent_are_not_sent_again_when_the_hub_catches_up(
    port: int, runtimes: dict[str, Runtime]
) -> None:
    bus = runtimes["postgresql"].bus
    account = uuid.uuid4()
    token = mint_token(JWT_SECRET, uuid.uuid4(), account, "engineer", "Senior Engineer")
    staying = await SSEClient.connect(port, token)  # the hub follows the account from here
    assert (await staying.next_frame()).event == "ready"
    before = await bus.publish(str(account), "handoff_withdrawn", b'{"n":0}')
    assert (await staying.next_frame()).id == before

    # Three events whose doorbell never rang: the hub does not know of them yet.
    raw = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        unrung = [
            (await raw.xadd(stream_key(str(account)), {"type": "handoff_withdrawn", "data": f'{{"n":{n}}}'})).decode()
            for n in (1, 2, 3)
        ]
    finally:
        await raw.aclose()

    resumed = await SSEClient.connect(port, token, last_event_id=before)
    assert (await resumed.next_frame()).event == "ready"
    replayed = await resumed.events(3)
    assert [f.id for f in replayed] == unrung

    # The next event rings the doorbell: the hub reads the three with it and fans all four out.
    after = await bus.publish(str(account), "handoff_withdrawn", b'{"n":4}')
    assert [f.id for f in await staying.events(4)] == [*unrung, after]
    live = await resumed.next_frame()
    assert live.id == after
    assert msgspec.json.decode(live.data.encode()) == {"n": 4}
    with pytest.raises(TimeoutError):
        await resumed.next_frame(timeout=1.0)  # nothing repeated after it either
    await staying.close()
    await resumed.close()
