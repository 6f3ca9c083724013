"""AI session bodies on the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec

from shared.input_rules import require_in_range, require_one_line

MessageRole = Literal["engineer", "assistant", "system"]
MessageKind = Literal["message", "step"]
StepStatus = Literal["done", "failed", "skipped"]


class SessionStatus(StrEnum):
    ACTIVE = "active"
    PARKED = "parked"
    ESCALATED = "escalated"


# `handed_off` is not a session status: the caller's escalations that another engineer now holds.
SessionFilter = Literal["active", "parked", "escalated", "handed_off", "all"]


MAX_CONTEXT_BYTES = 64 * 1024
MAX_SESSION_MESSAGES = 2000


class MessageIn(msgspec.Struct, kw_only=True):
    role: MessageRole
    content: Annotated[str, msgspec.Meta(min_length=1, max_length=20000)]
    kind: MessageKind = "message"
    step_status: StepStatus | None = None
    at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None

    def __post_init__(self) -> None:
        require_in_range("at", self.at)


class Message(msgspec.Struct, kw_only=True):
    role: MessageRole
    content: str
    kind: MessageKind
    step_status: StepStatus | None
    at: str


class SessionCreate(msgspec.Struct, kw_only=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    ticket_ref: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    context: dict[str, Any] | None = None
    messages: Annotated[list[MessageIn], msgspec.Meta(max_length=500)] | None = None

    def __post_init__(self) -> None:
        require_one_line("title", self.title)
        require_one_line("ticket_ref", self.ticket_ref)


class Session(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    account_id: uuid.UUID
    title: str
    ticket_ref: str | None
    status: SessionStatus
    engineer_id: uuid.UUID
    context: dict[str, Any]
    messages: list[Message]
    escalation_package: dict[str, Any] | None
    created_at: str
    updated_at: str


class SessionSummary(msgspec.Struct, kw_only=True):
    """A session in a list: no context or messages, and only the essentials of its latest handoff."""

    id: uuid.UUID
    account_id: uuid.UUID
    title: str
    ticket_ref: str | None
    status: SessionStatus
    engineer_id: uuid.UUID
    message_count: int
    escalation_package: dict[str, Any] | None
    created_at: str
    updated_at: str


class SessionPage(msgspec.Struct, kw_only=True):
    items: list[SessionSummary]
    next_cursor: str | None
