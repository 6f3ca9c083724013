"""Handoff bodies on the wire."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec

Intent = Literal["escalate", "park"]
HandoffStatus = Literal["open", "claimed", "resumed", "withdrawn"]
Urgency = Literal["low", "normal", "high"]
AssessmentStatus = Literal["not_requested", "pending", "ready", "failed"]
QueueStatus = Literal["open", "claimed", "all"]


class HandoffCreate(msgspec.Struct, kw_only=True):
    intent: Intent
    note: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    urgency: Urgency = "normal"


class Person(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str


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


class HandoffPage(msgspec.Struct, kw_only=True):
    items: list[Handoff]
    next_cursor: str | None
