"""A TCP fault proxy on loopback: it forwards each route's connections to its upstream and breaks them on command.

Run as its own process (`python -m tests.support.faultproxy --control PORT --route NAME=LISTEN:UPSTREAM ...`), so the
soak's own load never slows what it forwards. It prints `ready` once every port listens, then takes one command
per line on the control port and answers `ok` or `error <why>`:

    latency ROUTE MS   every chunk waits MS milliseconds before it is passed on (both ways)
    stall ROUTE        nothing is passed on (connections stay open, bytes wait) until `heal`
    reset ROUTE        every open connection is closed with a TCP reset, on both sides
    down ROUTE         reset, and every new connection too, until `heal`
    heal ROUTE         no latency, no stall, up
    stats              one line: per route, connections accepted, open now, and resets sent
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import spare_port

CHUNK = 65536
HOST = "127.0.0.1"


def _abort_with_reset(writer: asyncio.StreamWriter) -> None:
    """Close at once with RST rather than FIN: the peer sees "connection reset", as when a host drops it."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class Pipe:
    """One proxied connection: the client's side, the upstream's side, and the two tasks that pump them."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for task in self.tasks:
            task.cancel()
        _abort_with_reset(self.client)
        _abort_with_reset(self.upstream)


class Route:
    """One listening port in front of one upstream port, with its faults."""

    def __init__(self, name: str, listen: int, upstream: int) -> None:
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.latency_s = 0.0
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.down = False
        self.pipes: set[Pipe] = set()
        self.accepted = 0
        self.resets = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, self.listen)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.reset()

    def reset(self) -> None:
        for pipe in list(self.pipes):
            pipe.reset()
            self.resets += 1
        self.pipes.clear()

    def heal(self) -> None:
        self.latency_s = 0.0
        self.down = False
        self.flowing.set()

    async def _accept(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.down:
            self.resets += 1
            _abort_with_reset(client)
            return
        try:
            upstream_reader, upstream = await asyncio.open_connection(HOST, self.upstream)
        except OSError:
            _abort_with_reset(client)  # the upstream is down: so is the route
            return
        pipe = Pipe(client, upstream)
        pipe.tasks = [
            asyncio.create_task(self._pump(client_reader, upstream)),
            asyncio.create_task(self._pump(upstream_reader, client)),
        ]
        self.pipes.add(pipe)
        try:
            await asyncio.wait(pipe.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pipe.tasks:
                task.cancel()
            if pipe in self.pipes:  # ended by a side closing: pass the close on to the other
                self.pipes.discard(pipe)
                for writer in (client, upstream):
                    writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(CHUNK):
                await self.flowing.wait()
                if self.latency_s:
                    await asyncio.sleep(self.latency_s)  # fault: the latency the proxy adds to each chunk
                writer.write(data)
                await writer.drain()


class FaultProxy:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = {route.name: route for route in routes}

    def command(self, line: str) -> str:
        """Apply one control line; the answer to send back."""
        words = line.split()
        if words == ["stats"]:
            return "ok " + " ".join(
                f"{r.name}:accepted={r.accepted},open={len(r.pipes)},resets={r.resets}" for r in self.routes.values()
            )
        if len(words) < 2 or words[1] not in self.routes:
            return f"error unknown command or route: {line.strip()!r}"
        verb, route = words[0], self.routes[words[1]]
        if verb == "latency" and len(words) == 3 and words[2].isdigit():
            route.latency_s = int(words[2]) / 1000
        elif verb == "stall" and len(words) == 2:
            route.flowing.clear()
        elif verb == "reset" and len(words) == 2:
            route.reset()
        elif verb == "down" and len(words) == 2:
            route.down = True
            route.reset()
        elif verb == "heal" and len(words) == 2:
            route.heal()
        else:
            return f"error cannot {line.strip()!r}"
        return "ok"

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while line := await reader.readline():
                writer.write((self.command(line.decode()) + "\n").encode())
                await writer.drain()
        writer.close()


async def serve(control_port: int, routes: list[Route]) -> None:
    proxy = FaultProxy(routes)
    for route in routes:
        await route.start()
    control = await asyncio.start_server(proxy.control, HOST, control_port)
    print("ready", flush=True)
    async with control:
        await control.serve_forever()


class ProxyControl:
    """The driver's end of the control port: one command, one answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()

    async def send(self, *words: str | int) -> str:
        async with self._lock:
            if self._streams is None:
                self._streams = await asyncio.open_connection(HOST, self.port)
            reader, writer = self._streams
            writer.write((" ".join(str(w) for w in words) + "\n").encode())
            await writer.drain()
            answer = (await reader.readline()).decode().strip()
        if not answer.startswith("ok"):
            raise RuntimeError(f"fault proxy: {answer or 'no answer'} to {words}")
        return answer.removeprefix("ok").strip()

    async def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


@asynccontextmanager
async def fault_proxy(
    upstreams: Mapping[str, int], log_path: Path
) -> AsyncIterator[tuple[ProxyControl, dict[str, int]]]:
    """The proxy in a process of its own, a route per upstream port; its control and each route's port."""
    control = spare_port()
    listen = {name: spare_port() for name in upstreams}
    args = [sys.executable, "-m", "tests.support.faultproxy", "--control", str(control)]
    args += [f"--route={name}={listen[name]}:{port}" for name, port in upstreams.items()]
    with log_path.open("ab") as log:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, cwd=Path(__file__).parents[2])
        proxy = ProxyControl(control)
        try:
            assert process.stdout is not None
            line = await asyncio.to_thread(process.stdout.readline)
            if line.strip() != b"ready":
                raise RuntimeError(f"the fault proxy did not start: {line!r}")
            yield proxy, listen
        finally:
            await proxy.close()
            process.terminate()
            process.wait(10)


def _route(text: str) -> Route:
    name, _, ports = text.partition("=")
    listen, _, upstream = ports.partition(":")
    return Route(name, int(listen), int(upstream))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--route", action="append", type=_route, required=True, help="NAME=LISTEN:UPSTREAM")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.control, args.route))
    sys.exit(0)


if __name__ == "__main__":
    main()
