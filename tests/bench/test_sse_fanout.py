"""Fan-out: an escalation made through replica A, timed until its frame reaches a probe on replica B.

K idle streams on B are held by a separate lean process (tests/bench/holder.py), so the probe's
figure is the replica's, not a crowded client's. The probe opens after them: both the hub and the
floor serve streams in the order they opened, so the probe's figure is the last stream's. In the
same run the same escalations are fanned out by a minimal uvicorn + Starlette endpoint fed by the
same XREAD (the Python floor), and one XADD to a blocking XREAD is timed (the Redis floor).
Figures are printed; the one assertion is that Redis connections stay bounded whatever the
stream count.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import redis.asyncio

from tests.bench.conftest import FULL, p50, p50_p99, p99, record, scale
from tests.bench.fleet import Account, Holder, floor_server, redis_connections, replicas, rss
from tests.bench.rawhttp import RawConnection
from tests.bench.socket_floor import sends
from tests.conftest import REDIS_URL
from tests.support.sse import SSEClient

# HANDOFF_BENCH_SSE_STREAMS=1000 runs one stream count of your choosing (at the full scale's number of events).
STREAM_COUNTS = (
    (int(os.environ["HANDOFF_BENCH_SSE_STREAMS"]),)
    if os.environ.get("HANDOFF_BENCH_SSE_STREAMS")
    else (1000, 10000)
    if FULL
    else (50,)
)
EVENTS = {50: 30, 1000: 150, 10000: 60}
# The replica's shared pool (20) plus its one blocking tail connection.
REDIS_CONNECTION_BOUND = 21
# uvicorn closes a keep-alive connection idle for 5 s; a request written after that is lost.
KEEP_ALIVE_S = 4.0


class Timings(list[float]):
    """Milliseconds from each escalation's first byte to its frame on the probe; `missed` never arrived.

    Beside it, each hop of the same escalations: from the 201 to the frame (the fan-out alone, negative
    when the frame came first), and split at the event's stream id, whose milliseconds are Redis's clock
    when it appended the event: sent -> XADD (the request and the relay), XADD -> frame (the hub).
    """

    missed: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.after_201: list[float] = []
        self.to_xadd: list[float] = []
        self.xadd_to_frame: list[float] = []
        self.frame_bytes = 0  # the size of the escalations' frames, as the probe received them

    def __str__(self) -> str:
        figure = p50_p99(self)
        return f"{figure} ({self.missed} of {len(self) + self.missed} frames missed)" if self.missed else figure

    def hops(self) -> str:
        return (
            f"201 -> frame {p50_p99(self.after_201)}; sent -> XADD {p50_p99(self.to_xadd)}; "
            f"XADD -> frame {p50_p99(self.xadd_to_frame)}"
        )


async def _answer(conn: RawConnection) -> tuple[int, Any, float]:
    """The answer to the request sent on `conn`, and when it arrived."""
    status, answer = await conn.receive()
    return status, answer, time.perf_counter()


async def sent_to_frame(a_port: int, probe: SSEClient, account: Account, sessions: list[str], gap_s: float) -> Timings:
    """Escalate each session through A; ms from the request's first byte to the probe's frame."""
    conn = await RawConnection.open(a_port)
    timings = Timings()
    try:
        for session_id in sessions:
            # Let the previous event reach every stream first: the probe sits anywhere in the fan-out
            # order, so the whole fan-out took at most about twice what the probe saw.
            pause = gap_s + 2 * (timings[-1] if timings else 0) / 1000
            if pause > KEEP_ALIVE_S:  # the server would close the idle connection meanwhile
                await conn.close()
                await asyncio.sleep(pause)  # pace: the gap between escalations
                conn = await RawConnection.open(a_port)
            else:
                await asyncio.sleep(pause)  # pace: the gap between escalations
            started, started_wall = time.perf_counter(), time.time()
            conn.send("POST", f"/api/v1/ai-sessions/{session_id}/handoff", account.junior, {"intent": "escalate"})
            answered = asyncio.create_task(_answer(conn))
            try:
                while True:
                    frame = await probe.next_frame(timeout=15)
                    if frame.event == "handoff_created" and frame.json["session_id"] == session_id:
                        arrived, arrived_wall = time.perf_counter(), time.time()
                        timings.append((arrived - started) * 1000)
                        timings.frame_bytes = max(timings.frame_bytes, len(frame.data.encode()))
                        if frame.id is not None:
                            appended_ms = int(frame.id.split("-")[0])
                            timings.to_xadd.append(appended_ms - started_wall * 1000)
                            timings.xadd_to_frame.append(arrived_wall * 1000 - appended_ms)
                        break
            except TimeoutError:
                timings.missed += 1  # printed beside the figure; the next escalation goes on a new connection
                answered.cancel()
                await conn.close()
                conn = await RawConnection.open(a_port)
                continue
            status, answer, answered_at = await answered
            assert status == 201, answer
            timings.after_201.append((arrived - answered_at) * 1000)
    finally:
        await conn.close()
    return timings


async def redis_floor(rounds: int) -> list[float]:
    """XADD on one connection to a blocking XREAD on another, on loopback."""
    writer, reader = redis.asyncio.Redis.from_url(REDIS_URL), redis.asyncio.Redis.from_url(REDIS_URL)
    key = "handoff:bench:floor"
    timings: list[float] = []
    try:
        await writer.delete(key)
        cursor = "0-0"
        for _ in range(rounds):
            read = asyncio.create_task(reader.xread({key: cursor}, block=5000))
            await asyncio.sleep(0.002)  # pace: each round gives the XREAD 2 ms to block on the server
            started = time.perf_counter()
            await writer.xadd(key, {"x": "1"})
            found = await read
            timings.append((time.perf_counter() - started) * 1000)
            cursor = found[0][1][-1][0]
        await writer.delete(key)
    finally:
        await writer.aclose()
        await reader.aclose()
    return timings


async def test_fan_out_to_idle_streams(pg_url: str, tmp_path: Path) -> None:
    account = Account()
    with replicas(pg_url, tmp_path) as [(a_port, _), (b_port, b_pid)]:
        total = sum(EVENTS.get(k, 150) for k in STREAM_COUNTS) * 2
        sessions = await account.sessions(a_port, total)
        redis_ms = await redis_floor(200)
        for streams in STREAM_COUNTS:
            events = EVENTS.get(streams, 150)
            gap = 0.02

            # The project: the holder's streams on B, then the probe, the last stream each event reaches.
            before = rss(b_pid)
            with Holder(b_port, [account.senior], streams, tmp_path) as holder:
                await holder.ready()
                probe = await SSEClient.connect(b_port, account.senior)
                assert (await probe.next_frame()).event == "ready"
                connections = await redis_connections(f"handoff-api-{b_pid}")
                ours = await sent_to_frame(a_port, probe, account, [sessions.pop() for _ in range(events)], gap)
                ours_rss = (rss(b_pid) - before) / streams
            await probe.close()
            # The kernel's floor of the fan-out: as many plain send() calls of a frame that size, in a loop.
            kernel_ms = await asyncio.to_thread(sends, streams + 1, ours.frame_bytes, events)

            # The floor: the same escalations through A, fanned out by Starlette from the same XREAD.
            with floor_server(account.id) as (floor_port, floor_pid):
                before = rss(floor_pid)
                with Holder(floor_port, ["-"], streams, tmp_path) as holder:
                    await holder.ready()
                    probe = await SSEClient.connect(floor_port, None)
                    assert (await probe.next_frame()).event == "ready"
                    floor_connections = await redis_connections("handoff-bench-floor")
                    floor = await sent_to_frame(a_port, probe, account, [sessions.pop() for _ in range(events)], gap)
                    floor_rss = (rss(floor_pid) - before) / streams
                await probe.close()

            record(
                f"escalation via A -> frame on the last of {streams + 1:,} streams on B, p50 / p99 ({events} events)",
                str(ours),
                f"Starlette {floor}; Redis XADD->XREAD {p50_p99(redis_ms)}",
                "<= 15 / <= 50 ms",
            )
            record(
                f"  the same escalations hop by hop, {streams + 1:,} streams",
                ours.hops(),
                f"Starlette {floor.hops()}; {streams + 1:,} plain send() calls of a {ours.frame_bytes:,}-byte frame "
                f"{p50_p99(kernel_ms)}",
                "the fan-out alone as near its floor as can be",
            )
            record(
                f"RSS per open stream, {streams:,} streams",
                f"{ours_rss / 1024:.1f} KB",
                f"Starlette {floor_rss / 1024:.1f} KB",
                "<= 20 KB at 10,000 streams",
            )
            record(
                f"Redis connections for {streams:,} streams",
                str(connections),
                f"Starlette {floor_connections} (one XREAD); pub/sub per client {streams + 1}",
                "constant",
            )
            assert connections <= REDIS_CONNECTION_BOUND


ACCOUNTS = scale(50, 10000)


async def test_fan_out_with_many_accounts(pg_url: str, tmp_path: Path) -> None:
    """One subscriber in each of many accounts on one replica, against one subscriber in one account."""
    account = Account()
    others = [Account() for _ in range(ACCOUNTS)]
    events = scale(6, 60)
    with replicas(pg_url, tmp_path) as [(a_port, _), (b_port, _)]:
        sessions = await account.sessions(a_port, events * 2)
        probe = await SSEClient.connect(b_port, account.senior)
        assert (await probe.next_frame()).event == "ready"
        alone = await sent_to_frame(a_port, probe, account, [sessions.pop() for _ in range(events)], 0.02)

        with Holder(b_port, [other.senior for other in others], ACCOUNTS, tmp_path) as holder:
            started = time.perf_counter()
            await holder.ready()
            opened_s = time.perf_counter() - started
            crowded = await sent_to_frame(a_port, probe, account, [sessions.pop() for _ in range(events)], 0.02)
        await probe.close()

    record(
        f"fan-out, {ACCOUNTS + 1:,} accounts x 1 stream vs 1 account x 1 stream, p50 / p99",
        f"{crowded} ({p50(crowded) / p50(alone):.1f}x / {p99(crowded) / p99(alone):.1f}x)",
        f"one account alone {alone}",
        "<= 2x the single-account figure",
    )
    print(f"\n{ACCOUNTS:,} streams in as many accounts opened in {opened_s:.1f} s")
