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
from collections.abc import Callable
from dataclasses import dataclass
from random import Random

from tests.soak.stack import Service, Stack, now

KINDS = ((0.30, "kill"), (0.15, "pause"), (0.10, "redis restart"), (0.45, "proxy"))
PROXY_ROUTES = ("redis", "pg", "smtp")
PROXY_FAULTS = ("latency", "reset", "stall", "down")


@dataclass
class Fault:
    number: int
    kind: str  # kill | pause | redis restart | latency | reset | stall | down
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

    async def run(self, until: float) -> None:
        """Inject faults until `until`; then wait for the last ones to be healed."""
        number = 0
        while True:
            gap = self.rng.uniform(3, 10)
            if now() + gap >= until:
                break
            await asyncio.sleep(gap)
            number += 1
            task = asyncio.create_task(self._inject(number))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        while self._tasks:
            await asyncio.gather(*self._tasks)

    async def _inject(self, number: int) -> None:
        # Every draw is made up front, whatever happens next, so the schedule depends on the seed alone.
        kind = self._pick(KINDS)
        service = self.rng.choice(self.stack.services)
        worker = self.rng.choice(self.stack.workers)
        route, fault = self.rng.choice(PROXY_ROUTES), self.rng.choice(PROXY_FAULTS)
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
        await asyncio.sleep(down_s)
        service.start()
        await service.healthy(self.stack.http, timeout=120)
        fault.ended = now()

    async def _pause(self, number: int, worker: Service, stopped_s: float) -> None:
        fault = self._begin(number, "pause", worker.name, f"SIGSTOP {worker.name} for {stopped_s:.1f} s")
        worker.pause()
        await asyncio.sleep(stopped_s)
        worker.resume()
        fault.ended = now()

    async def _restart_redis(self, number: int, down_s: float) -> None:
        fault = self._begin(number, "redis restart", "redis", f"SIGKILL redis-server, started again in {down_s:.1f} s")
        self.stack.redis.kill()
        await asyncio.sleep(down_s)
        await self.stack.redis.start()
        fault.ended = now()

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
            await asyncio.sleep(lasting_s * 2)
        elif fault_kind == "reset":
            await self.proxy.send("reset", route)
        else:
            await self.proxy.send(fault_kind, route)
            await asyncio.sleep(lasting_s)
        await self.proxy.send("heal", route)
        fault.ended = now()

    def _pick(self, weighted: tuple[tuple[float, str], ...]) -> str:
        roll = self.rng.random()
        for weight, value in weighted:
            roll -= weight
            if roll < 0:
                return value
        return weighted[-1][1]
