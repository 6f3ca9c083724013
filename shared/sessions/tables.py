"""The sessions' tables: AI sessions and their messages and steps."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import AutoId, Base
from shared.ids import new_id
from shared.sessions.schemas import MessageKind, MessageRole, SessionStatus, StepStatus


class AISession(Base):
    __tablename__ = "ai_sessions"
    __table_args__ = (Index("ix_ai_sessions_account_engineer", "account_id", "engineer_id", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    title: Mapped[str] = mapped_column(String(200))
    ticket_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    status: Mapped[SessionStatus] = mapped_column(String(16), default=SessionStatus.ACTIVE)
    engineer_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalation_package: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SessionMessage(Base):
    """One message or step of an AI session; the id orders them."""

    __tablename__ = "ai_session_messages"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ai_sessions.id"), index=True)
    role: Mapped[MessageRole] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    kind: Mapped[MessageKind] = mapped_column(String(16), default="message")
    step_status: Mapped[StepStatus | None] = mapped_column(String(16), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
