"""What HANDOFF_REDIS_MIN_REPLICAS=1 costs: escalate -> SSE frame with and without `WAIT`, a master and one replica.

Two `handoff api` processes on one Redis master with one replica (loopback), each on a database of its own so
that each one's relay publishes only its own escalations: one with MIN_REPLICAS=0, one with 1. Escalations go
to both in turns, each timed from its request's first byte to its `handoff_created` frame on a stream of the
same replica. The floor is Redis alone: an XADD, and an XADD followed by `WAIT 1` on the same connection.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis.asyncio

from tests.bench.conftest import p50_p99, record, scale
from tests.bench.fleet import Account, replicas
from tests.bench.test_sse_fanout import Timings, sent_to_frame
from tests.conftest import fresh_pg_database
from tests.support.sentinel import replicated_redis
from tests.support.sse import SSEClient

EVENTS = scale(20, 300)
TURN = 10  # escalations to one process before the other's turn: both see the same machine
GAP_S = 0.02


async def redis_floor(url: str, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds of an XADD alone, and of an XADD then `WAIT 1 1000` pipelined on one connection."""
    client = redis.asyncio.Redis.from_url(url, single_connection_client=True)
    key = "handoff:bench:wait"
    alone: list[float] = []
    waited: list[float] = []
    try:
        for _ in range(rounds):
            started = time.perf_counter()
            await client.xadd(key, {"x": "1"}, maxlen=1000)
            alone.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            async with client.pipeline(transaction=False) as pipe:
                pipe.xadd(key, {"x": "1"}, maxlen=1000)
                pipe.execute_command("WAIT", 1, 1000)
                _, confirmed = await pipe.execute()
            waited.append((time.perf_counter() - started) * 1000)
            assert confirmed == 1
        await client.delete(key)
    finally:
        await client.aclose()
    return alone, waited


async def test_the_cost_of_waiting_for_a_replica(tmp_path: Path) -> None:
    with (
        replicated_redis(tmp_path, replicas=1) as group,
        fresh_pg_database() as plain_db,
        fresh_pg_database() as waiting_db,
        replicas(plain_db, tmp_path, count=1, HANDOFF_REDIS_URL=group.url()) as [(plain, _)],
        replicas(waiting_db, tmp_path, count=1, HANDOFF_REDIS_URL=group.url(), HANDOFF_REDIS_MIN_REPLICAS="1") as [
            (waiting, _)
        ],
    ):
        # An account each: the two databases number their outbox rows alike, and the relay dedupes by that number.
        accounts = {plain: Account(), waiting: Account()}
        sessions = {port: await accounts[port].sessions(port, EVENTS) for port in (plain, waiting)}
        probes = {port: await SSEClient.connect(port, accounts[port].senior) for port in (plain, waiting)}
        for probe in probes.values():
            assert (await probe.next_frame()).event == "ready"
        timings = {plain: Timings(), waiting: Timings()}
        for start in range(0, EVENTS, TURN):
            for port in (plain, waiting):
                batch = sessions[port][start : start + TURN]
                turn = await sent_to_frame(port, probes[port], accounts[port], batch, GAP_S)
                timings[port].extend(turn)
                timings[port].missed += turn.missed
        for probe in probes.values():
            await probe.close()
        alone, waited = await redis_floor(group.url(), EVENTS * 5)

    record(
        f"escalate -> SSE frame, HANDOFF_REDIS_MIN_REPLICAS=1 vs 0, p50 / p99 ({EVENTS} events each)",
        f"{timings[waiting]} with WAIT, {timings[plain]} without",
        f"Redis XADD {p50_p99(alone)}; XADD + WAIT 1 {p50_p99(waited)}",
        "the cost of WAIT, printed",
    )
    assert timings[waiting].missed == 0
    assert timings[plain].missed == 0
