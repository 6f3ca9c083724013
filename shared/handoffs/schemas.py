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
# How a claim was made: the API (the dashboard's button, or any client) or an email's pick-up link.
ClaimVia = Literal["api", "email_link"]
# `card`: what a queue card shows, without the snapshot's messages, steps and context.
HandoffFields = Literal["card"]
CARD_SNAPSHOT_FIELDS = ("title", "ticket_ref", "steps_tried_count", "message_count")
FULL_SNAPSHOT_FIELDS = (*CARD_SNAPSHOT_FIELDS, "context", "messages", "steps_tried")


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


def _snapshot_schema() -> dict[str, Any]:
    """The snapshot as the OpenAPI document describes it: a card (`fields=card`) omits the list-only keys."""
    message = {"type": "object", "required": ["role", "content", "kind", "step_status", "at"]}
    messages = {"type": "array", "items": message}
    properties = {
        "title": {"type": "string"},
        "ticket_ref": {"oneOf": [{"type": "string"}, {"type": "null"}]},
        "steps_tried_count": {"type": "integer"},
        "message_count": {"type": "integer"},
        "context": {"type": "object"},
        "messages": messages,
        "steps_tried": messages,
    }
    return {
        "description": (
            "The session as it was handed off. `context`, `messages` (the last 50) and `steps_tried` "
            "(the last 50) are absent from the items of a list asked for with `fields=card`."
        ),
        "extra": {"properties": properties, "required": list(CARD_SNAPSHOT_FIELDS)},
    }


SNAPSHOT_SCHEMA = _snapshot_schema()


class PagedSenior(msgspec.Struct, kw_only=True):
    """A senior a step paged, and why: `rotation:<name>`, `override:<name>`, `user`, `all_seniors`, `fallback`."""

    user: Person
    step: int
    reason: str
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
    snapshot: Annotated[dict[str, Any], msgspec.Meta(extra_json_schema=SNAPSHOT_SCHEMA)]
    assessment_status: AssessmentStatus
    ai_assessment_data: dict[str, Any] | None
    reminders_sent: int = 0
    assessment_feedback: list[AssessmentFeedback] = msgspec.field(default_factory=list)
    paged: list[PagedSenior] = msgspec.field(default_factory=list)


class HandoffPage(msgspec.Struct, kw_only=True):
    items: list[Handoff]
    next_cursor: str | None
