"""The interface every AI provider implements."""

from __future__ import annotations

from typing import Protocol

from shared.assessments.schemas import AssessmentDraft, AssessmentInput


class ProviderError(Exception):
    """The provider could not produce a valid assessment (after its own retries)."""


class AIProvider(Protocol):
    name: str  # "heuristic", "openai", "anthropic": stored as the assessment's provider
    model: str

    async def assess(self, request: AssessmentInput) -> AssessmentDraft:
        """A validated draft assessment, or ProviderError."""
        ...
