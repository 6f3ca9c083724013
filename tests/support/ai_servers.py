"""Local HTTP servers that speak the OpenAI Chat Completions and Anthropic Messages wire formats.

Each answers from a script, one step per request, and records what it was sent.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn

from tests.support.processes import spare_port
from tests.support.waiting import eventually

Flavour = Literal["openai", "anthropic"]


@dataclass
class Step:
    kind: Literal["answer", "status", "hang", "slow_answer"]
    text: str = ""
    status: int = 200
    seconds: float = 0.0


def answer(text: str) -> Step:
    return Step("answer", text=text)


def status(code: int) -> Step:
    return Step("status", status=code)


def hang(seconds: float) -> Step:
    return Step("hang", seconds=seconds)


def slow_answer(text: str, seconds: float) -> Step:
    return Step("slow_answer", text=text, seconds=seconds)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass
class FakeAIServer:
    flavour: Flavour
    script: deque[Step] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    default: Step | None = None  # what to answer once the script has run out

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}" + ("/v1" if self.flavour == "openai" else "")

    def then(self, *steps: Step) -> FakeAIServer:
        self.script.extend(steps)
        return self

    def _body(self, text: str) -> dict[str, Any]:
        if self.flavour == "openai":
            return {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "test-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "test-model",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 10, "output_tokens": 10},
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Recorded(scope["path"], headers, raw))
        step = self.script.popleft() if self.script else (self.default or status(500))
        if step.kind == "hang":
            await asyncio.sleep(step.seconds)  # fault: the provider hangs, then fails
            step = status(500)
        if step.kind == "slow_answer":
            await asyncio.sleep(step.seconds)  # fault: the provider is slow to answer
        answered = step.kind in ("answer", "slow_answer")
        code, payload = (200, self._body(step.text)) if answered else (step.status, {"error": "scripted"})
        body = json.dumps(payload).encode()
        response_headers = [(b"content-type", b"application/json")]
        if code == 429:
            response_headers.append((b"retry-after", b"0"))
        await send({"type": "http.response.start", "status": code, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def fake_ai_server(flavour: Flavour) -> AsyncIterator[FakeAIServer]:
    fake = FakeAIServer(flavour, port=spare_port())
    config = uvicorn.Config(fake, host="127.0.0.1", port=fake.port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.config.timeout_graceful_shutdown = 1
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), 30, "the fake AI server to start")
    if task.done():
        task.result()  # it failed to start: say why
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
