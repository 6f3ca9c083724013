"""Teams Workflows and Slack incoming webhooks on loopback, answering as the vendors do.

Each receiver keeps what it accepted with the time it arrived, answers the vendor's success (Teams 202 with no
body, Slack 200 `ok`), refuses what the vendor refuses, and can be told to answer a list of replies first (a 429
with Retry-After, a 5xx) or to answer one reply for good (Slack's 404 `no_service` for a removed hook).

The `teams` and `slack` fixtures (registered for every test by tests/conftest.py) start one of each for a test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.psa_servers import FakeServer, Reply, Request


@dataclass
class Arrival:
    at: float  # time.monotonic() when the request had arrived
    status: int  # what the receiver answered
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ChatReceiver(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[Arrival] = []  # every request, answered or refused
        self.first_replies: list[Reply] = []  # answered in turn before anything else
        self.always: Reply | None = None  # answered to every request once `first_replies` is used up
        self.hold: asyncio.Event | None = None  # when set, a request waits for the event before it is answered
        self.received = 0  # requests read so far, answered or not

    @property
    def url(self) -> str:
        raise NotImplementedError

    def accepted(self) -> list[Any]:
        """The JSON of every post the receiver took, oldest first."""
        return [a.json() for a in self.arrivals if 200 <= a.status < 300]

    async def handle(self, request: Request) -> Reply:
        at = time.monotonic()
        self.received += 1
        if self.hold is not None:
            await self.hold.wait()
        if self.first_replies:
            reply = self.first_replies.pop(0)
        elif self.always is not None:
            reply = self.always
        else:
            reply = self.answer(request)
        self.arrivals.append(Arrival(at, reply.status, request.body))
        return reply

    def answer(self, request: Request) -> Reply:
        raise NotImplementedError


class FakeTeamsWorkflow(ChatReceiver):
    """A Workflows "When a Teams webhook request is received" trigger: its URL's `sig` is the secret."""

    PATH = "/workflows/0f6e5c1d/triggers/manual/paths/invoke"

    def __init__(self) -> None:
        super().__init__()
        self.sig = secrets.token_urlsafe(24)

    @property
    def url(self) -> str:
        return f"{self.origin}{self.PATH}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sig}"

    def answer(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != self.PATH:
            return Reply(404, {"error": {"code": "TriggerNotFound"}})
        if request.param("sig") != self.sig:
            return Reply(401, {"error": {"code": "DirectApiAuthorizationRequired"}})
        try:
            message = request.json()
            [attachment] = message["attachments"]
            card = attachment["content"]
        except (ValueError, KeyError, TypeError):
            return Reply(400, {"error": {"code": "InvalidRequestContent"}})
        if len(request.body) > 28 * 1024:
            return Reply(413, {"error": {"code": "MessageTooLarge"}})
        if (
            message.get("type") != "message"
            or attachment.get("contentType") != "application/vnd.microsoft.card.adaptive"
            or card.get("type") != "AdaptiveCard"
        ):
            return Reply(400, {"error": {"code": "InvalidRequestContent"}})
        return Reply(202, None)


class FakeSlackWebhook(ChatReceiver):
    """A Slack incoming webhook: `/services/T…/B…/<secret>`."""

    def __init__(self) -> None:
        super().__init__()
        self.token = secrets.token_urlsafe(18)

    @property
    def url(self) -> str:
        return f"{self.origin}/services/T0HANDOFF/B0CHAT/{self.token}"

    def answer(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != f"/services/T0HANDOFF/B0CHAT/{self.token}":
            return Reply(404, b"no_service")
        try:
            message = request.json()
        except ValueError:
            return Reply(400, b"invalid_payload")
        if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
            return Reply(400, b"no_text")
        if not _valid_blocks(message.get("blocks", [])):
            return Reply(400, b"invalid_blocks")
        return Reply(200, b"ok")


def _valid_blocks(blocks: Any) -> bool:
    """What Slack checks of the blocks this service sends: at most 50, section text 1..3000, buttons with a url."""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return False
    for block in blocks:
        if block.get("type") == "section":
            text = block.get("text", {}).get("text", "")
            if not 1 <= len(text) <= 3000:
                return False
        elif block.get("type") == "actions":
            if any(e.get("type") == "button" and not 1 <= len(e.get("url", "")) <= 3000 for e in block["elements"]):
                return False
        else:
            return False
    return True


def spacing(receiver: ChatReceiver) -> list[float]:
    """Seconds between one arrival and the next."""
    times = [a.at for a in receiver.arrivals]
    return [b - a for a, b in itertools.pairwise(times)]


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeamsWorkflow]:
    """A Teams workflow on loopback for the test."""
    server = FakeTeamsWorkflow()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlackWebhook]:
    """A Slack incoming webhook on loopback for the test."""
    server = FakeSlackWebhook()
    await server.start()
    yield server
    await server.stop()
