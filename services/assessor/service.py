"""The `assess` job: ask the configured provider, fall back to the rules, store the result once."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.assessor.providers.base import AIProvider, ProviderError
from services.assessor.providers.heuristic import HeuristicProvider
from shared.assessments.schemas import Assessment, AssessmentDraft
from shared.assessments.service import pending_assessment, record_assessment
from shared.clock import rfc3339, utcnow
from shared.db.uow import read_only, unit_of_work
from shared.handoffs.schemas import AssessmentStatus
from shared.observability.metrics import ASSESSMENT_DURATION

log = logging.getLogger("handoff.assessor")


def stamp(draft: AssessmentDraft, provider: AIProvider) -> Assessment:
    """The stored form: the draft plus who made it, when, and with which prompt."""
    return Assessment(
        **msgspec.structs.asdict(draft),
        provider=provider.name,
        model=provider.model,
        generated_at=rfc3339(utcnow()),
        prompt_version=provider.prompt_version,
    )


class AssessHandoff:
    """Runs one `assess` job; safe to run twice for the same handoff."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], provider: AIProvider) -> None:
        self.sessionmaker = sessionmaker
        self.provider = provider
        self.fallback: AIProvider = HeuristicProvider()  # the rules answer when the provider cannot

    async def __call__(self, payload: dict[str, Any]) -> str:
        handoff_id = uuid.UUID(str(payload["handoff_id"]))
        async with read_only(self.sessionmaker) as db:
            request = await pending_assessment(db, handoff_id)
        if request is None:
            return "nothing to do"
        status = AssessmentStatus.READY
        started = time.perf_counter()
        try:
            assessment = stamp(await self.provider.assess(request), self.provider)
            ASSESSMENT_DURATION.labels(self.provider.name, "ready").observe(time.perf_counter() - started)
        except ProviderError as exc:
            ASSESSMENT_DURATION.labels(self.provider.name, "failed").observe(time.perf_counter() - started)
            log.warning(
                "assessment of %s by %s failed (%s); storing the rules' assessment", handoff_id, self.provider.name, exc
            )
            status = AssessmentStatus.FAILED
            assessment = stamp(await self.fallback.assess(request), self.fallback)
        async with unit_of_work(self.sessionmaker) as db:
            written = await record_assessment(db, handoff_id, status, assessment)
        return status if written else "already assessed"
