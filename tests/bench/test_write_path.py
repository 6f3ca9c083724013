"""The write path against its database floor: escalate latency, escalations per second, the claim race.

The account escalates under a 3-step escalation policy whose steps name an on-call rotation of 50 seniors
(each escalation pages the senior on call, writes their email row, the next step's timer and a reminder).
Requests go to real `handoff api` replicas over loopback from a lean client. The floor is raw
asyncpg executing the statements the same requests execute (captured in-process, see
statements.py), in one transaction each, on as many connections as the replicas may hold.
Figures are printed; what is asserted is what a user sees: every escalation made, one winner per race.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from tests.bench.conftest import p50, p50_p99, record, scale
from tests.bench.fleet import Account, replicas
from tests.bench.rawhttp import RawConnection
from tests.bench.statements import Replay, Statement, captured, execute, swap
from tests.conftest import JWT_SECRET
from tests.support.tenants import mint_token

SEQUENTIAL = scale(10, 300)
ESCALATIONS = scale(64, 2000)
CONCURRENCY = 32
RACE_ROUNDS = scale(2, 30)
CLAIMERS = 50
# What two replicas may hold: HANDOFF_DB_POOL_SIZE + HANDOFF_DB_MAX_OVERFLOW (5 + 5) each.
FLOOR_CONNECTIONS = 20
ESCALATE = {"intent": "escalate"}
ROTATION_SIZE = 50
# HANDOFF_BENCH_RACE_ONLY=1 skips the escalate phases, to iterate on the claim race alone.
RACE_ONLY = os.environ.get("HANDOFF_BENCH_RACE_ONLY") == "1"
_DECISIVE = re.compile(r"^\s*UPDATE handoffs SET", re.IGNORECASE)
_LOAD = re.compile(r"^\s*SELECT handoffs\.id\b", re.IGNORECASE)


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def sub(token: str) -> str:
    import jwt

    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


async def paging_policy(http: httpx.AsyncClient, account: Account) -> None:
    """The account's 50 seniors in one daily rotation, and a 3-step policy paging it: on call, then again with one
    named senior, then every senior."""
    service = {"Authorization": f"Bearer {mint_token(JWT_SECRET, uuid.uuid4(), None, 'service', 'main application')}"}
    base = f"/api/v1/accounts/{account.id}"
    seniors = [str(uuid.uuid4()) for _ in range(ROTATION_SIZE)]
    for n, user_id in enumerate(seniors):
        body = {"email": f"senior{n}@msp.test", "name": f"Rotation Senior {n}", "role": "engineer", "active": True}
        made = await http.put(f"{base}/users/{user_id}", json=body, headers=service)
        assert made.status_code == 200, made.text
    rotation = {"name": "primary", "members": seniors, "start": "2026-01-05T09:00", "turn_days": 1}
    saved = await http.put(f"{base}/on-call", json={"time_zone": "UTC", "rotations": [rotation]}, headers=service)
    assert saved.status_code == 200, saved.text
    steps = [
        {"after_s": 0, "notify": ["rotation:primary"]},
        {"after_s": 300, "notify": ["rotation:primary", f"user:{seniors[1]}"]},
        {"after_s": 900, "notify": ["all_seniors"]},
    ]
    saved = await http.put(f"{base}/escalation-policy", json={"steps": steps}, headers=service)
    assert saved.status_code == 200, saved.text


class Captures:
    """The statements of one escalate, one winning claim and one losing claim, run in-process."""

    def __init__(self, runtime: Runtime, account: Account) -> None:
        self.runtime = runtime
        self.account = account
        self.loser_token = account.senior_token("Second Senior")

    async def take(self) -> tuple[Replay, list[Statement], list[Statement], dict[str, str]]:
        app = create_app(self.runtime.settings, runtime=self.runtime)
        transport = httpx.ASGITransport(app=app)
        a = self.account
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:

            async def call(token: str, path: str, body: Any = None) -> httpx.Response:
                return await http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

            await paging_policy(http, a)
            made = await call(a.junior, "/api/v1/ai-sessions", {"title": "capture", "messages": []})
            session_id = made.json()["id"]
            with captured(self.runtime.engine) as escalate:
                answer = await call(a.junior, f"/api/v1/ai-sessions/{session_id}/handoff", ESCALATE)
            assert answer.status_code == 201, answer.text
            assert [p["reason"] for p in answer.json()["paged"]] == ["rotation:primary"], answer.json()["paged"]
            handoff_id = answer.json()["id"]
            with captured(self.runtime.engine) as won:
                assert (await call(a.senior, f"/api/v1/handoffs/{handoff_id}/claim")).status_code == 200
            with captured(self.runtime.engine) as lost:
                assert (await call(self.loser_token, f"/api/v1/handoffs/{handoff_id}/claim")).status_code == 409
        ids = {"session": session_id, "handoff": handoff_id}
        return Replay(escalate, {str(a.id), sub(a.junior)}), won, lost, ids


async def claim_floor(
    conn: asyncpg.Connection, won: list[Statement], lost: list[Statement], ids: dict[str, str]
) -> bool:
    """A claim as raw statements: the winner's until the decisive UPDATE; when it matched nothing, the load again
    (the read that names the winner), as the service does."""
    async with conn.transaction():
        load: Statement | None = None
        for statement in won:
            if load is None and _LOAD.match(statement.sql):
                load = statement
                # As the service does: a claimer that finds the escalation decided stops here.
                rows = await conn.fetch(statement.sql, *swap(statement.parameters, ids))
                if rows and rows[0]["status"] != "open":
                    return False
                continue
            status = await execute(conn, statement, ids)
            if _DECISIVE.match(statement.sql) and status in {"UPDATE 0", "ROWS 0"}:
                if load is not None:
                    await execute(conn, load, ids)
                return False
    return True


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def test_write_path_beside_raw_asyncpg(pg_url: str, runtimes: dict[str, Runtime], tmp_path: Path) -> None:
    account = Account()
    escalate, won, lost, captured_ids = await Captures(runtimes["postgresql"], account).take()
    claimers = [account.senior_token(f"Senior {n}") for n in range(CLAIMERS)]
    record(
        "statements per escalate / winning claim / losing claim (directory read included)",
        f"{len(escalate.statements)} / {len(won)} / {len(lost)}",
        "the floor replays the same statements",
        "fewer round trips",
    )

    with replicas(pg_url, tmp_path) as [(a_port, a_pid), (b_port, b_pid)]:
        sessions = await account.sessions(a_port, 2 * (SEQUENTIAL + ESCALATIONS + RACE_ROUNDS), messages=10)
        floor = await asyncpg.create_pool(asyncpg_dsn(pg_url), min_size=FLOOR_CONNECTIONS, max_size=FLOOR_CONNECTIONS)
        assert floor is not None
        try:
            ours: list[float] = []
            if not RACE_ONLY:
                # Sequential escalate latency.
                conn = await RawConnection.open(a_port)
                for _ in range(SEQUENTIAL):
                    session_id = sessions.pop()

                    async def one(session_id: str = session_id) -> None:
                        status, body = await conn.request(
                            "POST", f"/api/v1/ai-sessions/{session_id}/handoff", account.junior, ESCALATE
                        )
                        assert status == 201, body

                    ours.append(await timed(one))
                await conn.close()
                raw: list[float] = []
                async with floor.acquire() as db:
                    for _ in range(SEQUENTIAL):
                        swap = {captured_ids["session"]: sessions.pop()}
                        raw.append(await timed(lambda swap=swap: escalate.run(db, swap)))
                record(
                    f"sequential escalate latency, p50 / p99 ({SEQUENTIAL} requests)",
                    f"{p50_p99(ours)} ({p50(ours) / p50(raw):.1f}x the floor's p50)",
                    f"raw asyncpg {p50_p99(raw)} ({len(escalate.statements)} statements, one transaction)",
                    "p50 <= 2x the floor",
                )

                # Escalations per second: two replicas, 32 at a time.
                batch = [sessions.pop() for _ in range(ESCALATIONS)]

                async def client(port: int, mine: list[str]) -> None:
                    conn = await RawConnection.open(port)
                    for session_id in mine:
                        status, body = await conn.request(
                            "POST", f"/api/v1/ai-sessions/{session_id}/handoff", account.junior, ESCALATE
                        )
                        assert status == 201, body
                    await conn.close()

                started = time.perf_counter()
                await asyncio.gather(
                    *(client((a_port, b_port)[n % 2], batch[n::CONCURRENCY]) for n in range(CONCURRENCY))
                )
                ours_rate = ESCALATIONS / (time.perf_counter() - started)
                floor_batch = [sessions.pop() for _ in range(ESCALATIONS)]

                async def raw_client(mine: list[str]) -> None:
                    for session_id in mine:
                        async with floor.acquire() as db:
                            await escalate.run(db, {captured_ids["session"]: session_id})

                started = time.perf_counter()
                await asyncio.gather(*(raw_client(floor_batch[n::CONCURRENCY]) for n in range(CONCURRENCY)))
                raw_rate = ESCALATIONS / (time.perf_counter() - started)
                record(
                    f"escalations/s, 2 replicas, {CONCURRENCY} concurrent ({ESCALATIONS} escalations)",
                    f"{ours_rate:.0f}/s ({100 * ours_rate / raw_rate:.0f}% of the floor)",
                    f"raw asyncpg {raw_rate:.0f}/s on {FLOOR_CONNECTIONS} connections",
                    ">= 50% of raw asyncpg",
                )

            # The claim race: 50 seniors on both replicas, one winner.
            race_ms: list[float] = []
            race_cpu_s = 0.0
            fleet = [psutil.Process(a_pid), psutil.Process(b_pid)]
            for _ in range(RACE_ROUNDS):
                setup = await RawConnection.open(a_port)
                status, handoff = await setup.request(
                    "POST", f"/api/v1/ai-sessions/{sessions.pop()}/handoff", account.junior, ESCALATE
                )
                await setup.close()
                assert status == 201, handoff
                conns = [await RawConnection.open((a_port, b_port)[n % 2]) for n in range(CLAIMERS)]

                async def claim(conn: RawConnection, token: str, handoff_id: str = handoff["id"]) -> tuple[int, Any]:
                    started = time.perf_counter()
                    conn.send("POST", f"/api/v1/handoffs/{handoff_id}/claim", token)
                    answer = await conn.receive()
                    race_ms.append((time.perf_counter() - started) * 1000)
                    return answer

                cpu_before = sum(sum(p.cpu_times()[:2]) for p in fleet)
                answers = await asyncio.gather(*(claim(c, t) for c, t in zip(conns, claimers, strict=True)))
                race_cpu_s += sum(sum(p.cpu_times()[:2]) for p in fleet) - cpu_before
                await asyncio.gather(*(c.close() for c in conns))
                statuses = sorted(status for status, _ in answers)
                assert statuses == [200] + [409] * (CLAIMERS - 1), statuses
                assert {body["code"] for status, body in answers if status == 409} == {"handoff_already_claimed"}

            floor_ms: list[float] = []
            floor_cpu_s = 0.0
            winners = []
            for _ in range(RACE_ROUNDS):
                session_id = sessions.pop()
                async with floor.acquire() as db:
                    await escalate.run(db, {captured_ids["session"]: session_id})
                    handoff_id = await db.fetchval(
                        "SELECT id FROM handoffs WHERE session_id = $1", uuid.UUID(session_id)
                    )

                async def raw_claim(handoff_id: uuid.UUID = handoff_id, session_id: str = session_id) -> bool:
                    ids = {
                        **escalate.ids({}),
                        captured_ids["handoff"]: str(handoff_id),
                        captured_ids["session"]: session_id,
                    }
                    started = time.perf_counter()
                    async with floor.acquire() as db:
                        won_race = await claim_floor(db, won, lost, ids)
                    floor_ms.append((time.perf_counter() - started) * 1000)
                    return won_race

                cpu_before = time.process_time()
                winners.append(sum(await asyncio.gather(*(raw_claim() for _ in range(CLAIMERS)))))
                floor_cpu_s += time.process_time() - cpu_before
            record(
                f"{CLAIMERS}-way claim race, p50 / p99 ({RACE_ROUNDS} races, one winner each)",
                p50_p99(race_ms),
                f"raw asyncpg {p50_p99(floor_ms)} on {FLOOR_CONNECTIONS} connections",
                "p99 <= 150 ms",
            )
            claims = RACE_ROUNDS * CLAIMERS
            record(
                "claim race: CPU per claim request (both replicas' process CPU during the races)",
                f"{1000 * race_cpu_s / claims:.2f} ms",
                f"raw asyncpg {1000 * floor_cpu_s / claims:.2f} ms (the client process)",
                "less is more headroom on a shared host",
            )
            print(f"\nfloor races won: {winners}; median escalate {p50(ours) if ours else float('nan'):.1f} ms")
        finally:
            await floor.close()
