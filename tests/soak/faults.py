"""The faults, one every 3 to 10 s, drawn from a seeded RNG so that a failing run can be replayed.

- SIGKILL of an API replica or a worker, started again 1 to 3 s later;
- SIGSTOP of a worker for 2 to 5 s, then SIGCONT;
- a Redis restart (SIGKILL, then started again on the same port 1 to 3 s later);
- through the fault proxy, on the route to Redis, PostgreSQL or SMTP: latency, a reset of every connection,
  a stall, or the route down (connections reset as they come), healed a few seconds later.

Each fault is printed as it is injected, and logged with when it began and ended, for the checker.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from random import Random
from typing import Any, TypeVar

from tests.soak.stack import Service, Stack, now
from tests.support.sentinel import redis_args
from tests.support.waiting import eventually

T = TypeVar("T")

KINDS = ((0.30, "kill"), (0.15, "pause"), (0.10, "redis restart"), (0.45, "proxy"))
PROXY_ROUTES = ("redis", "pg", "smtp")
# With Sentinel the processes reach Redis through the sentinels, not the proxy, and the master is killed twice
# (a third and two thirds into the run) instead of one server restarted at random.
SENTINEL_KINDS = ((0.35, "kill"), (0.15, "pause"), (0.50, "proxy"))
SENTINEL_ROUTES = ("pg", "smtp")
MASTER_KILLS_AT = (1 / 3, 2 / 3)
FAILOVER_TIMEOUT_S = 60
PROXY_FAULTS = ("latency", "reset", "stall", "down")


@dataclass
class Fault:
    number: int
    kind: str  # kill | pause | redis restart | master kill | latency | reset | stall | down
    target: str  # a service's name, or a proxy route
    began: float
    ended: float | None = None  # when the target was whole again (a replica: answering /healthz)
    detail: str = ""


class FaultDriver:
    def __init__(self, stack: Stack, rng: Random, *, started: float, say: Callable[[str], None]) -> None:
        self.stack = stack
        self.rng = rng
        self.started = started
        self.say = say
        self.proxy = stack.proxy
        self.faults: list[Fault] = []
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._numbers = itertools.count(1)
        sentinel = stack.replicated is not None
        self.kinds = SENTINEL_KINDS if sentinel else KINDS
        self.routes = SENTINEL_ROUTES if sentinel else PROXY_ROUTES
        self.failovers: list[float] = []  # seconds from each master's SIGKILL to its successor's promotion

    async def run(self, until: float) -> None:
        """Inject faults until `until`; then wait for the last ones to be healed."""
        if self.stack.replicated is not None:
            for share in MASTER_KILLS_AT:
                self._spawn(self._kill_master_at(self.started + share * (until - self.started)))
        while True:
            gap = self.rng.uniform(3, 10)
            if now() + gap >= until:
                break
            await asyncio.sleep(gap)  # pace: the next fault, 3 to 10 s after the last began
            self._spawn(self._inject(next(self._numbers)))
        while self._tasks:
            await asyncio.gather(*self._tasks)

    def _spawn(self, fault: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(fault)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _inject(self, number: int) -> None:
        # Every draw is made up front, whatever happens next, so the schedule depends on the seed alone.
        kind = self._pick(self.kinds)
        service = self.rng.choice(self.stack.services)
        worker = self.rng.choice(self.stack.workers)
        route, fault = self.rng.choice(self.routes), self.rng.choice(PROXY_FAULTS)
        seconds, latency_ms = self.rng.uniform(1, 3), self.rng.randint(20, 200)
        target = {"kill": service.name, "pause": worker.name, "redis restart": "redis"}.get(kind, f"proxy {route}")
        if target in self._busy:
            self.say(f"{self._clock()} fault #{number}: {target} is still down from an earlier fault; skipped")
            return
        self._busy.add(target)
        try:
            if kind == "kill":
                await self._kill(number, service, seconds)
            elif kind == "pause":
                await self._pause(number, worker, seconds + 1)
            elif kind == "redis restart":
                await self._restart_redis(number, seconds)
            else:
                await self._proxy(number, route, fault, seconds + 1, latency_ms)
        finally:
            self._busy.discard(target)

    def _clock(self) -> str:
        return f"[{now() - self.started:6.1f} s]"

    def _begin(self, number: int, kind: str, target: str, detail: str) -> Fault:
        fault = Fault(number, kind, target, now(), detail=detail)
        self.faults.append(fault)
        self.say(f"{self._clock()} fault #{number}: {detail}")
        return fault

    async def _kill(self, number: int, service: Service, down_s: float) -> None:
        fault = self._begin(number, "kill", service.name, f"SIGKILL {service.name}, started again in {down_s:.1f} s")
        service.kill()
        await asyncio.sleep(down_s)  # fault: the service stays down this long
        service.start()
        await service.healthy(self.stack.http, timeout=120)
        fault.ended = now()

    async def _pause(self, number: int, worker: Service, stopped_s: float) -> None:
        fault = self._begin(number, "pause", worker.name, f"SIGSTOP {worker.name} for {stopped_s:.1f} s")
        worker.pause()
        await asyncio.sleep(stopped_s)  # fault: SIGSTOP for this long
        worker.resume()
        fault.ended = now()

    async def _restart_redis(self, number: int, down_s: float) -> None:
        server = self.stack.redis
        assert server is not None, "one Redis server to restart"
        fault = self._begin(number, "redis restart", "redis", f"SIGKILL redis-server, started again in {down_s:.1f} s")
        server.kill()
        await asyncio.sleep(down_s)  # fault: Redis stays down this long
        await server.start()
        fault.ended = now()

    async def _kill_master_at(self, moment: float) -> None:
        await asyncio.sleep(max(0.0, moment - now()))  # pace: the master is killed at its share of the run
        number = next(self._numbers)
        # The first failover may still be going on (on a very slow machine).
        await eventually(lambda: "redis" not in self._busy, FAILOVER_TIMEOUT_S * 2, "the last Redis fault to end")
        self._busy.add("redis")
        try:
            await self._kill_master(number)
        finally:
            self._busy.discard("redis")

    async def _kill_master(self, number: int) -> None:
        """SIGKILL the master; once the sentinels have promoted a replica, start the old one again as its replica."""
        group = self.stack.replicated
        assert group is not None, "a master with replicas and sentinels"
        old = group.master
        fault = self._begin(number, "master kill", "redis", f"SIGKILL the Redis master (:{old.port})")
        old.kill()
        new = await self._until(lambda: group.promoted(old), "the sentinels to promote a replica")
        self.failovers.append(now() - fault.began)
        self.say(
            f"{self._clock()} fault #{number}: :{new.port} is the master {self.failovers[-1]:.1f} s after the kill"
        )
        restart = redis_args(group.workdir, group.password, replica_of=new.port)
        await asyncio.to_thread(old.start, restart, [old.port])
        await self._until(lambda: group.online_replicas() == len(group.nodes) - 1, "the old master to resync")
        self.say(f"{self._clock()} fault #{number}: the old master is back as a replica of :{new.port}")
        fault.ended = now()

    async def _until(self, check: Callable[[], T | None], what: str) -> T:
        """Poll a blocking `check` (it asks Redis servers) off the event loop until it answers."""
        answer: T = await eventually(lambda: asyncio.to_thread(check), FAILOVER_TIMEOUT_S, what, interval=0.1)
        return answer

    async def _proxy(self, number: int, route: str, fault_kind: str, lasting_s: float, latency_ms: int) -> None:
        detail = {
            "latency": f"proxy {route}: {latency_ms} ms latency for {lasting_s * 2:.1f} s",
            "reset": f"proxy {route}: reset every connection",
            "stall": f"proxy {route}: stall for {lasting_s:.1f} s",
            "down": f"proxy {route}: down for {lasting_s:.1f} s",
        }[fault_kind]
        fault = self._begin(number, fault_kind, route, detail)
        if fault_kind == "latency":
            await self.proxy.send("latency", route, latency_ms)
            await asyncio.sleep(lasting_s * 2)  # fault: the latency lasts this long
        elif fault_kind == "reset":
            await self.proxy.send("reset", route)
        else:
            await self.proxy.send(fault_kind, route)
            await asyncio.sleep(lasting_s)  # fault: the stall or the cut lasts this long
        await self.proxy.send("heal", route)
        fault.ended = now()

    def _pick(self, weighted: tuple[tuple[float, str], ...]) -> str:
        roll = self.rng.random()
        for weight, value in weighted:
            roll -= weight
            if roll < 0:
                return value
        return weighted[-1][1]
