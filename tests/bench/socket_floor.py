"""The kernel's floor for fan-out: one frame written to each of N loopback TCP sockets by a plain loop of `send()`.

    python tests/bench/socket_floor.py PORT COUNT

Run so, it is the reading end: it opens COUNT connections to PORT and drains them until it is stopped. The bench
process accepts them and times `sends`: no event loop, no framing, no HTTP, only the syscalls any server pays per
stream, with the reader on the same machine as the bench's stream holder is.
"""

from __future__ import annotations

import select
import socket
import subprocess
import sys
import time
from pathlib import Path


def drain(port: int, count: int) -> None:
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    poller = select.epoll()
    by_fd = {}
    for connection in connections:
        connection.setblocking(False)
        poller.register(connection.fileno(), select.EPOLLIN)
        by_fd[connection.fileno()] = connection
    while True:
        for fd, _ in poller.poll():
            try:
                if not by_fd[fd].recv(1 << 16):
                    return  # the bench closed its end
            except BlockingIOError:
                pass


def sends(count: int, frame_bytes: int, rounds: int, gap_s: float = 0.02) -> list[float]:
    """Milliseconds to write one `frame_bytes` frame to each of `count` connected sockets, `rounds` times."""
    with socket.create_server(("127.0.0.1", 0), backlog=count + 16) as server:
        port = server.getsockname()[1]
        reader = subprocess.Popen([sys.executable, str(Path(__file__)), str(port), str(count)])
        connections: list[socket.socket] = []
        try:
            connections = [server.accept()[0] for _ in range(count)]
            for connection in connections:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as uvicorn sets it
            frame = b"x" * frame_bytes
            timings = []
            for _ in range(rounds):
                time.sleep(gap_s)  # pace: the reader drains the last round first
                started = time.perf_counter()
                for connection in connections:
                    connection.send(frame)
                timings.append((time.perf_counter() - started) * 1000)
            return timings
        finally:
            for connection in connections:
                connection.close()
            reader.wait(timeout=30)


if __name__ == "__main__":
    drain(int(sys.argv[1]), int(sys.argv[2]))
