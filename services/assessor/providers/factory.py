"""The provider `HANDOFF_AI_PROVIDER` names, configured from the settings."""

from __future__ import annotations

from services.assessor.providers import anthropic, openai
from services.assessor.providers.base import AIProvider
from services.assessor.providers.heuristic import HeuristicProvider
from shared.config import Settings


def build_provider(settings: Settings) -> AIProvider:
    if settings.ai_provider == "openai":
        return openai.OpenAIProvider(
            base_url=settings.ai_base_url or openai.DEFAULT_BASE_URL,
            api_key=settings.ai_api_key,
            model=settings.ai_model or openai.DEFAULT_MODEL,
            timeout_s=settings.ai_timeout_s,
        )
    if settings.ai_provider == "anthropic":
        return anthropic.AnthropicProvider(
            base_url=settings.ai_base_url or anthropic.DEFAULT_BASE_URL,
            api_key=settings.ai_api_key,
            model=settings.ai_model or anthropic.DEFAULT_MODEL,
            timeout_s=settings.ai_timeout_s,
        )
    return HeuristicProvider()
