"""Any OpenAI-compatible Chat Completions server: OpenAI, Azure OpenAI, vLLM, Ollama, LiteLLM."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from services.assessor.prompt import SYSTEM
from services.assessor.providers.chat import ChatProvider, Turn

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIProvider(ChatProvider):
    name = "openai"

    def request(self, conversation: list[Turn]) -> tuple[str, dict[str, str], dict[str, Any]]:
        # Azure puts `?api-version=` on the deployment URL: keep the query after the path we add.
        parts = urlsplit(self.base_url)
        url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/chat/completions"))
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            if parts.hostname and parts.hostname.endswith(".azure.com"):
                headers["api-key"] = self.api_key
            else:
                headers["Authorization"] = f"Bearer {self.api_key}"
        body = {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM}, *conversation],
            "response_format": {"type": "json_object"},
            "temperature": 0.2,
        }
        return url, headers, body

    def answer_text(self, body: Any) -> str:
        return str(body["choices"][0]["message"]["content"] or "")
