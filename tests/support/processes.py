"""Run the real `handoff` command in a child process, on a spare loopback port."""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.waiting import until

HANDOFF = str(Path(sys.executable).with_name("handoff"))


# Ports are handed out below the kernel's ephemeral range (32768 and up on Linux), so no outgoing connection
# takes one between our pick and the server's bind; each pytest-xdist worker counts through a block of its own,
# from a random point so that two runs side by side rarely meet, and skips any port something already holds.
PORT_BLOCK = 2000
FIRST_PORT = 10000
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
_BLOCK_START = FIRST_PORT + PORT_BLOCK * (_WORKER % ((32768 - FIRST_PORT) // PORT_BLOCK))
_first = random.randrange(PORT_BLOCK)
_next_ports = itertools.cycle([*range(_first, PORT_BLOCK), *range(_first)])


def spare_port() -> int:
    """A loopback port nothing holds now, and that no other worker of this run will hand out."""
    for _ in range(PORT_BLOCK):
        port = _BLOCK_START + next(_next_ports)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_BLOCK_START}..{_BLOCK_START + PORT_BLOCK - 1}")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    env.update(extra or {})
    return env


def wait_healthy(base_url: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            return httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        until(healthy, timeout, f"{base_url} to become healthy", interval=0.1)
    except TimeoutError:
        # A server that never became healthy is not left running: it would hold a port, memory and database slots.
        process.kill()
        process.wait(timeout=10)
        raise


def run_handoff(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `handoff <args>` to its end with only the given HANDOFF_* settings; its output is captured."""
    return subprocess.run(
        [HANDOFF, *args], cwd=cwd, env=clean_env(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def stop(process: subprocess.Popen[str], *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(
    args: list[str], *, cwd: Path, env: Mapping[str, str] | None = None, port: int
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """Start `handoff <args>`, wait until it answers /healthz, stop it on exit; yields the process and its log."""
    log_path = cwd / f"handoff-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [HANDOFF, *args, "--port", str(port)],
            cwd=cwd,
            env=clean_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process)
            yield process, log_path
        finally:
            stop(process, timeout=10)


def api_env(database_url: str, redis_url: str, secret: str) -> dict[str, str]:
    """The environment of a networked `handoff api` replica."""
    return {
        "HANDOFF_DATABASE_URL": database_url,
        "HANDOFF_REDIS_URL": redis_url,
        "HANDOFF_JWT_SECRET": secret,
        "HANDOFF_SECRET_KEY": "k" * 43 + "=",
        "HANDOFF_LOG_LEVEL": "WARNING",
        "HANDOFF_RATE_LIMIT_PER_MIN": "1000000",
        "HANDOFF_ESCALATIONS_PER_HOUR": "1000000",
    }


class RedisServer:
    """A redis-server of the test's own, on a spare port, that the test may stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.port = spare_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*args, "--dir", str(self.workdir)], stdout=subprocess.DEVNULL)

        def answers() -> bool:
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        until(answers, 10, "redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def started(args: list[str], *, cwd: Path, env: Mapping[str, str]) -> Iterator[subprocess.Popen[str]]:
    """Start a `handoff` worker (no port to wait on); stop it with SIGTERM on exit."""
    log_path = cwd / f"handoff-{args[0]}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [HANDOFF, *args], cwd=cwd, env=clean_env(env), stdout=log, stderr=subprocess.STDOUT, text=True
        )
        try:
            time.sleep(0.2)  # absence: a worker that cannot start (its settings refused) exits at once
            if process.poll() is not None:
                raise RuntimeError(f"handoff {args[0]} exited with {process.returncode}: {log_path.read_text()}")
            yield process
        finally:
            stop(process, timeout=15)
