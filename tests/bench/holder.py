"""Holds K idle SSE streams open from a process of its own, with raw sockets, and discards what arrives.

    python tests/bench/holder.py --port P --tokens FILE --count K

Connects in batches, waits for every stream's `ready` frame, prints `ready K` on stdout, then
reads and throws away whatever comes until it is terminated. The streams cost the replica what
real idle browsers would; the client side costs the machine as little as a client can.
"""

from __future__ import annotations

import argparse
import resource
import selectors
import signal
import socket
import struct
import sys
import time
from pathlib import Path

BATCH = 500
PATH = "/api/v1/ai-sessions/escalations/stream"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default=PATH)
    parser.add_argument("--tokens", type=Path, required=True, help="one token per line, used in turn")
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, args.count + 256)), hard))
    tokens = args.tokens.read_text().split()
    selector = selectors.DefaultSelector()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    sockets: list[socket.socket] = []
    for start in range(0, args.count, BATCH):
        waiting: dict[socket.socket, bytes] = {}
        for n in range(start, min(args.count, start + BATCH)):
            sock = socket.create_connection(("127.0.0.1", args.port))
            # Reset on close: ten thousand streams ended in TIME_WAIT would use up the loopback's ports.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            token = tokens[n % len(tokens)]
            request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
            sock.sendall(request.encode())
            sock.setblocking(False)
            waiting[sock] = b""
            selector.register(sock, selectors.EVENT_READ)
            sockets.append(sock)
        deadline = time.monotonic() + 60
        while waiting:
            if time.monotonic() > deadline:
                sys.exit(f"holder: {len(waiting)} streams sent no ready frame")
            for key, _ in selector.select(timeout=1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                data = sock.recv(65536)
                if not data:
                    sys.exit("holder: the server closed a stream while it was opening")
                if sock in waiting:
                    seen = waiting[sock] + data
                    if not seen.startswith(b"HTTP/1.1 200") and b"\r\n\r\n" in seen:
                        sys.exit(f"holder: a stream was refused: {seen.splitlines()[0]!r}")
                    if b"event: ready" in seen:
                        del waiting[sock]
                    else:
                        waiting[sock] = seen
    print(f"ready {len(sockets)}", flush=True)

    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if not sock.recv(65536):
                    selector.unregister(sock)
            except OSError:
                selector.unregister(sock)


if __name__ == "__main__":
    main()
