"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepts, and can stall or refuse."""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.processes import spare_port


@dataclass
class Received:
    recipients: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return self.recipients[0]

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""


@dataclass
class MailCatcher:
    """The handler: accepts messages, refuses listed recipients, and can hold messages after the first k."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply, e.g. "550 no such user"
    accept_limit: int | None = None  # after this many, hold each DATA until `release` is set
    delay_s: float = 0.0  # a slow server: each DATA waits this long before its answer
    received: list[Received] = field(default_factory=list)
    held: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # fault: a slow server, taking this long over each message
        with self.lock:
            full = self.accept_limit is not None and len(self.received) >= self.accept_limit
            if full:
                self.held += 1
        if full:
            while not self.release.is_set():
                await asyncio.sleep(0.05)  # poll interval: `release` is set from another thread
            return "451 try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]


class SMTPServer:
    """Start, stop and start again on the same port."""

    def __init__(self, catcher: MailCatcher | None = None, *, implicit_tls: ssl.SSLContext | None = None) -> None:
        self.catcher = catcher or MailCatcher()
        self.port = spare_port()
        self.implicit_tls = implicit_tls  # TLS from the first byte, as on port 465
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.catcher, hostname="127.0.0.1", port=self.port, ssl_context=self.implicit_tls)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self.catcher.release.set()
            self._controller.stop()
            self._controller = None
            self.catcher.release.clear()

    def __enter__(self) -> SMTPServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
