"""`handoff dev` in a child process for the dashboard's browser tests, and the queue as the dashboard shows it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from tests.support.processes import HANDOFF, clean_env, spare_port, wait_healthy


class DevServer:
    """`handoff dev` in a folder of its own; can be stopped and started again on the same port.

    With an AI base URL it assesses through that OpenAI-speaking server; without one, the built-in rules engine does.
    """

    def __init__(self, cwd: Path, ai_base_url: str | None = None) -> None:
        self.cwd = cwd
        self.port = spare_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = (
            {}
            if ai_base_url is None
            else {
                "HANDOFF_AI_PROVIDER": "openai",
                "HANDOFF_AI_BASE_URL": ai_base_url,
                "HANDOFF_AI_API_KEY": "test-key",
                "HANDOFF_AI_TIMEOUT_S": "15",
            }
        )
        self.process: subprocess.Popen[str] | None = None
        self.tokens: dict[str, str] = {}

    def start(self) -> None:
        log = (self.cwd / "dev.log").open("a")
        self.process = subprocess.Popen(
            [HANDOFF, "dev", "--port", str(self.port)],
            cwd=self.cwd,
            env=clean_env(self.env),
            stdout=log,
            stderr=log,
            text=True,
        )
        wait_healthy(self.url, self.process)
        users = httpx.get(f"{self.url}/dev/demo-users").json()
        self.tokens = {user["name"]: user["token"] for user in users}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)

    async def api(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        async with httpx.AsyncClient(base_url=self.url, timeout=15) as http:
            response = await http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    async def escalate(self, title: str, **body: Any) -> dict[str, Any]:
        session = await self.api(
            "Jamie Junior",
            "POST",
            "/api/v1/ai-sessions",
            json={
                "title": title,
                "ticket_ref": "T-1",
                "messages": [
                    {"role": "engineer", "content": "Jobs stuck in the print queue"},
                    {"role": "engineer", "content": "Restarted the spooler", "kind": "step", "step_status": "failed"},
                ],
            },
        )
        payload = {"intent": "escalate", "note": "Spooler keeps crashing", **body}
        return dict(
            await self.api("Jamie Junior", "POST", f"/api/v1/ai-sessions/{session['id']}/handoff", json=payload)
        )


@contextmanager
def dev_server(cwd: Path, ai_base_url: str | None = None) -> Iterator[DevServer]:
    """A started `handoff dev`, stopped on exit."""
    server = DevServer(cwd, ai_base_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def card(handoff_id: str) -> str:
    return f'[data-testid=queue-card][data-handoff-id="{handoff_id}"]'


async def on_queue(page: Page) -> None:
    await page.click("a[data-testid=nav-queue]")
    await expect(page.locator("[data-testid=connection]")).to_have_attribute("data-state", "live", timeout=5000)
