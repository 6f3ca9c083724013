"""Redis with replicas and Sentinels on loopback: real `redis-server` processes a test can kill, pause and ask.

Ports come from two ranges (HANDOFF_TEST_SENTINEL_REDIS_PORTS, default 6401-6409, and
HANDOFF_TEST_SENTINEL_PORTS, default 26401-26409). A port is taken only once our own server answers on it
with its own process id, so two runs side by side each find free ones, or fail saying the range is full.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.support.processes import spare_port
from tests.support.waiting import until

MASTER_NAME = "handoff"
# A failover on loopback: the master counts as down after 1 s without an answer.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 2000
START_TIMEOUT_S = 10.0


def _port_range(variable: str, default: str) -> list[int]:
    first, _, last = os.environ.get(variable, default).partition("-")
    return list(range(int(first), int(last or first) + 1))


REDIS_PORTS = _port_range("HANDOFF_TEST_SENTINEL_REDIS_PORTS", "6401-6409")
SENTINEL_PORTS = _port_range("HANDOFF_TEST_SENTINEL_PORTS", "26401-26409")


def _answers_as(port: int, pid: int, password: str | None) -> bool:
    client = redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return int(client.info("server")["process_id"]) == pid
    except (redis.RedisError, OSError, KeyError, ValueError):
        return False
    finally:
        client.close()


class Server:
    """One redis-server (a master, a replica or a sentinel) of the test's own."""

    def __init__(self, workdir: Path, kind: str, password: str | None = None) -> None:
        self.workdir = workdir
        self.kind = kind
        self.password = password
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, argv_for: Callable[[int], list[str]], ports: list[int]) -> None:
        """Start on the first port of `ports` that we get to hold; the server then answers with our pid."""
        for port in [*ports, spare_port()]:
            argv = argv_for(port)
            log = (self.workdir / f"{self.kind}-{port}.log").open("ab")
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
            log.close()
            deadline = time.monotonic() + START_TIMEOUT_S
            while process.poll() is None and time.monotonic() < deadline:
                if _answers_as(port, process.pid, self.password):
                    self.port, self.process = port, process
                    return
                time.sleep(0.02)  # poll interval: the server answering as this process, or exiting, or the deadline
            process.kill()  # the port is someone else's: try the next one
            process.wait()
        raise RuntimeError(f"no free port for a {self.kind} in {ports[0]}-{ports[-1]} (nor a spare one)")

    @property
    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, socket_timeout=2, socket_connect_timeout=2
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


def redis_args(workdir: Path, password: str | None, replica_of: int | None = None) -> Callable[[int], list[str]]:
    """A data node: loopback only, no persistence, and a replica's full sync starts at once (no 5 s delay)."""

    def argv(port: int) -> list[str]:
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(workdir), "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
        if password is not None:  # every node may become the master, so each asks for it and gives it
            args += ["--requirepass", password, "--masterauth", password]
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        return args

    return argv


class ReplicatedRedis:
    """A master and its replicas, optionally watched by sentinels; `.master` follows a failover."""

    def __init__(self, workdir: Path, *, replicas: int, sentinels: int = 0, password: str | None = None) -> None:
        self.workdir = workdir
        self.password = password
        self.nodes = [Server(workdir, "redis", password) for _ in range(1 + replicas)]
        self.sentinels = [Server(workdir, "sentinel") for _ in range(sentinels)]
        self._master = self.nodes[0]

    def start(self) -> None:
        free = [p for p in REDIS_PORTS if p not in {n.port for n in self.nodes}]
        self._master.start(redis_args(self.workdir, self.password), free)
        for node in self.nodes[1:]:
            free = [p for p in free if p != self.nodes[0].port and p not in {n.port for n in self.nodes}]
            node.start(redis_args(self.workdir, self.password, replica_of=self._master.port), free)
        until(lambda: self.online_replicas() == len(self.nodes) - 1, 20, "the replicas' first sync")
        for sentinel in self.sentinels:
            taken = {s.port for s in self.sentinels}
            sentinel.start(self._sentinel_args, [p for p in SENTINEL_PORTS if p not in taken])
        if self.sentinels:
            until(self._sentinels_agree, 30, "the sentinels to know each other and every replica")

    def _sentinel_args(self, port: int) -> list[str]:
        """A sentinel's own config file (sentinels rewrite theirs), watching the master with a majority quorum."""
        config = self.workdir / f"sentinel-{port}.conf"
        config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self._master.port} {len(self.sentinels) // 2 + 1}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            + (f"sentinel auth-pass {MASTER_NAME} {self.password}\n" if self.password else "")
        )
        return ["redis-server", str(config), "--sentinel"]

    def online_replicas(self) -> int:
        """Replicas the master names as online."""
        try:
            info = self._master.client.info("replication")
        except (redis.RedisError, OSError):
            return 0
        return sum(1 for key, value in info.items() if key.startswith("slave") and value.get("state") == "online")

    def _sentinels_agree(self) -> bool:
        for sentinel in self.sentinels:
            try:
                state = sentinel.client.sentinel_master(MASTER_NAME)
            except (redis.RedisError, OSError):
                return False
            if state["num-other-sentinels"] != len(self.sentinels) - 1 or state["num-slaves"] != len(self.nodes) - 1:
                return False
        return True

    @property
    def master(self) -> Server:
        """The master as last seen: the first node, until `promoted` finds the one a failover chose."""
        return self._master

    @property
    def replicas(self) -> list[Server]:
        return [node for node in self.nodes if node is not self._master]

    def promoted(self, old: Server) -> Server | None:
        """The new master once every sentinel names one other than `old` and it answers as a master."""
        named = set()
        for sentinel in self.sentinels:
            try:
                named.add(int(sentinel.client.sentinel_get_master_addr_by_name(MASTER_NAME)[1]))
            except (redis.RedisError, OSError, TypeError):
                return None
        if len(named) != 1 or old.port in named:
            return None
        node = next(n for n in self.nodes if n.port in named)
        try:
            if node.client.info("replication")["role"] != "master":
                return None
        except (redis.RedisError, OSError):
            return None
        self._master = node
        return node

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self._master.port}/{db}"

    def sentinel_env(self, db: int = 0) -> dict[str, str]:
        """What a `handoff` process needs to find the master through the sentinels."""
        return {
            "HANDOFF_REDIS_SENTINELS": ",".join(s.address for s in self.sentinels),
            "HANDOFF_REDIS_SENTINEL_MASTER": MASTER_NAME,
            # Only the password and the database number are read from it: its host is ignored.
            "HANDOFF_REDIS_URL": self.url(db).replace(f"127.0.0.1:{self._master.port}", "ignored.invalid"),
        }

    def stop(self) -> None:
        for server in [*self.sentinels, *self.nodes]:
            server.resume()  # a paused server is killed all the same, but let it go cleanly
            server.kill()


@contextmanager
def replicated_redis(
    workdir: Path, *, replicas: int, sentinels: int = 0, password: str | None = None
) -> Iterator[ReplicatedRedis]:
    group = ReplicatedRedis(workdir, replicas=replicas, sentinels=sentinels, password=password)
    try:
        group.start()
        yield group
    finally:
        group.stop()
