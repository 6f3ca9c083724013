"""The interface every AI provider implements."""

from __future__ import annotations

from typing import Protocol

from shared.assessments.schemas import AssessmentDraft, AssessmentInput


class ProviderError(Exception):
    """The provider could not produce a valid assessment (after its own retries)."""


class AIProvider(Protocol):
    """Everything the assessor needs of a provider, so no caller asks what kind it is."""

    name: str  # "heuristic", "openai", "anthropic": stored as the assessment's provider
    model: str
    prompt_version: str | None  # the prompt it was asked with; None for one that reads no prompt

    async def assess(self, request: AssessmentInput) -> AssessmentDraft:
        """A validated draft assessment, or ProviderError."""
        ...

    async def close(self) -> None:
        """Release what the provider holds (an HTTP client); called once when its worker stops."""
        ...
