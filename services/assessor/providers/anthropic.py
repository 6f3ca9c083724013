"""The Anthropic Messages API."""

from __future__ import annotations

from typing import Any

from services.assessor.prompt import SYSTEM
from services.assessor.providers.chat import ChatProvider, Turn

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MODEL = "claude-sonnet-4-5"
API_VERSION = "2023-06-01"


class AnthropicProvider(ChatProvider):
    name = "anthropic"

    def request(self, conversation: list[Turn]) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"Content-Type": "application/json", "anthropic-version": API_VERSION}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        body = {"model": self.model, "max_tokens": 2000, "system": SYSTEM, "messages": conversation}
        return f"{self.base_url}/v1/messages", headers, body

    def answer_text(self, body: Any) -> str:
        return "".join(block.get("text", "") for block in body["content"] if block.get("type") == "text")
