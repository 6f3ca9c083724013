"""Escalation policy, timeline, feedback and team figures on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from shared.handoffs.schemas import Person


class FeedbackPut(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    helpful: bool
    resolved_by_step: Annotated[int, msgspec.Meta(ge=0, le=7)] | None = None
    comment: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class Feedback(msgspec.Struct, kw_only=True):
    user: Person
    helpful: bool
    resolved_by_step: int | None
    comment: str
    at: str


TimelineType = Literal[
    "created",
    "step_skipped",
    "paged",
    "assessment_ready",
    "assessment_failed",
    "notified",
    "reminder",
    "claimed",
    "claim_stale",
    "resumed",
    "withdrawn",
    "feedback",
]


class TimelineEntry(msgspec.Struct, kw_only=True):
    at: str
    type: TimelineType
    actor: Person | None
    detail: dict[str, Any]


class TimeToClaim(msgspec.Struct, kw_only=True):
    p50: float | None
    p90: float | None
    max: float | None


class UrgencyFigures(msgspec.Struct, kw_only=True):
    escalations: int
    claimed: int
    withdrawn: int
    open_now: int
    time_to_claim_s: TimeToClaim


class AssessmentFigures(msgspec.Struct, kw_only=True):
    ready: int
    failed: int
    rated: int
    helpful: int


class DailyFigures(msgspec.Struct, kw_only=True):
    date: str
    escalations: int
    claimed: int
    time_to_claim_p50_s: float | None


class HandoffStats(msgspec.Struct, kw_only=True):
    since: str
    until: str
    escalations: int
    claimed: int
    withdrawn: int
    open_now: int
    time_to_claim_s: TimeToClaim
    by_urgency: dict[str, UrgencyFigures]
    reminders_sent: int
    assessments: AssessmentFigures
    daily: list[DailyFigures]
