"""What the OpenAI-compatible and Anthropic clients share: redaction, the prompt, retries, validation, repair."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from typing import Any

import httpx
import msgspec

from services.assessor.prompt import PROMPT_VERSION, repair_prompt, user_prompt
from services.assessor.providers.base import ProviderError
from services.assessor.redaction import redact
from shared.assessments.schemas import AssessmentDraft, AssessmentInput

log = logging.getLogger("handoff.assessor")

Turn = dict[str, str]
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)


class InvalidAnswer(Exception):
    """The model answered, but not with a valid assessment."""


def parse_draft(text: str) -> AssessmentDraft:
    """The assessment inside a model's answer (fences and chatter around the JSON object are tolerated)."""
    body = _FENCE.sub("", text.strip())
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end < start:
        raise InvalidAnswer("the answer holds no JSON object")
    try:
        return msgspec.json.decode(body[start : end + 1], type=AssessmentDraft)
    except msgspec.ValidationError as exc:
        raise InvalidAnswer(f"the JSON does not match the schema: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise InvalidAnswer(f"the answer is not valid JSON: {exc}") from exc


class ChatProvider:
    """A chat-completion provider over HTTP; subclasses say how to call and how to read the answer."""

    name = "chat"
    prompt_version: str | None = PROMPT_VERSION

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_s: float,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))

    def request(self, conversation: list[Turn]) -> tuple[str, dict[str, str], dict[str, Any]]:
        """URL, headers and JSON body of one call."""
        raise NotImplementedError

    def answer_text(self, body: Any) -> str:
        """The model's text out of the provider's response body."""
        raise NotImplementedError

    async def assess(self, request: AssessmentInput) -> AssessmentDraft:
        safe = msgspec.convert(redact(msgspec.to_builtins(request)), AssessmentInput)
        conversation: list[Turn] = [{"role": "user", "content": user_prompt(safe)}]
        text = await self._complete(conversation)
        try:
            return parse_draft(text)
        except InvalidAnswer as exc:
            log.info("%s: answer was not a valid assessment (%s); asking once to repair it", self.name, exc)
            conversation += [
                {"role": "assistant", "content": text},
                {"role": "user", "content": repair_prompt(str(exc))},
            ]
        try:
            return parse_draft(await self._complete(conversation))
        except InvalidAnswer as exc:
            raise ProviderError(f"{self.name}: no valid assessment after one repair: {exc}") from exc

    async def _complete(self, conversation: list[Turn]) -> str:
        url, headers, body = self.request(conversation)
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = await self.http.post(url, headers=headers, json=body)
            except httpx.TimeoutException as exc:
                raise ProviderError(f"{self.name}: no answer within the timeout") from exc
            except httpx.TransportError as exc:
                if attempt == self.max_attempts:
                    raise ProviderError(f"{self.name}: could not reach the provider ({type(exc).__name__})") from exc
                await self._pause(attempt, None)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt == self.max_attempts:
                    raise ProviderError(f"{self.name}: HTTP {response.status_code} after {attempt} attempts")
                log.info("%s: HTTP %d, retrying (attempt %d)", self.name, response.status_code, attempt)
                await self._pause(attempt, response.headers.get("retry-after"))
                continue
            if response.status_code >= 400:
                raise ProviderError(f"{self.name}: HTTP {response.status_code}")
            try:
                return self.answer_text(response.json())
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise ProviderError(f"{self.name}: unreadable response body") from exc
        raise ProviderError(f"{self.name}: gave up")  # unreachable: the loop returns or raises

    async def _pause(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff_s * 2 ** (attempt - 1)
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), 10.0))
        await asyncio.sleep(delay * (0.5 + random.random()))

    async def close(self) -> None:
        await self.http.aclose()
