"""Handoff bodies on the wire."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec


class Intent(StrEnum):
    ESCALATE = "escalate"
    PARK = "park"


class HandoffStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESUMED = "resumed"
    WITHDRAWN = "withdrawn"


class Urgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class AssessmentStatus(StrEnum):
    NOT_REQUESTED = "not_requested"
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


QueueStatus = Literal["open", "claimed", "all"]


class HandoffCreate(msgspec.Struct, kw_only=True):
    intent: Intent
    note: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    urgency: Urgency = Urgency.NORMAL


class Person(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str


class AssessmentFeedback(msgspec.Struct, kw_only=True):
    """One senior's verdict on the AI assessment: helpful or not, and which suggested step fixed it."""

    user: Person
    helpful: bool
    resolved_by_step: int | None
    comment: str
    at: str


class Handoff(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    account_id: uuid.UUID
    session_id: uuid.UUID
    intent: Intent
    status: HandoffStatus
    note: str
    urgency: Urgency
    created_by: Person
    created_at: str
    claimed_by: Person | None
    claimed_at: str | None
    snapshot: dict[str, Any]
    assessment_status: AssessmentStatus
    ai_assessment_data: dict[str, Any] | None
    reminders_sent: int = 0
    assessment_feedback: list[AssessmentFeedback] = msgspec.field(default_factory=list)


class HandoffPage(msgspec.Struct, kw_only=True):
    items: list[Handoff]
    next_cursor: str | None
