"""The AI diagnostic assessment: what a provider must answer and what the Handoff carries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

Risk = Literal["low", "medium", "high"]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class LikelyCause(msgspec.Struct, kw_only=True):
    cause: Text
    confidence: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class AssessmentDraft(msgspec.Struct, kw_only=True):
    """What a provider answers; validated before it is stored."""

    summary: Text
    likely_causes: Annotated[list[LikelyCause], msgspec.Meta(max_length=8)]
    suggested_steps: Annotated[list[Text], msgspec.Meta(min_length=1, max_length=8)]
    missing_info: Annotated[list[Text], msgspec.Meta(max_length=12)] = []
    risk: Risk = "medium"


class Assessment(AssessmentDraft, kw_only=True):
    """A stored assessment: the draft plus who made it and when (`ai_assessment_data`)."""

    provider: str
    model: str
    generated_at: str
    prompt_version: str | None = None


class AssessmentInput(msgspec.Struct, kw_only=True):
    """What a provider is given: the handoff's snapshot and the escalator's words."""

    title: str
    ticket_ref: str | None = None
    context: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []  # Message objects of API.md: role, content, kind, step_status, at
    steps_tried: list[dict[str, Any]] = []  # the kind="step" messages, with step_status done/failed/skipped
    message_count: int = 0
    note: str = ""
    urgency: str = "normal"
    # Suggested steps that seniors of the account said fixed past escalations, and how many times.
    proven_steps: dict[str, int] = {}
