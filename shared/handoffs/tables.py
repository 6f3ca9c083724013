"""The handoffs' tables: escalations and parks, and the seniors' feedback on their assessments."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import AutoId, Base
from shared.db.types import JSONDocument
from shared.handoffs.schemas import AssessmentStatus, ClaimVia, HandoffStatus, Intent, Urgency


class HandoffRow(Base):
    """An escalation or a park of one AI session, with the snapshot it was handed off with."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_queue", "account_id", "intent", "status", "created_at", "id"),
        Index("ix_handoffs_account_created", "account_id", "created_at", "id"),
        Index(
            "ix_handoffs_assessment_pending",
            "created_at",
            postgresql_where=text("assessment_status = 'pending'"),
            sqlite_where=text("assessment_status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ai_sessions.id"), index=True)
    intent: Mapped[Intent] = mapped_column(String(16))
    status: Mapped[HandoffStatus] = mapped_column(String(16), default=HandoffStatus.OPEN)
    note: Mapped[str] = mapped_column(Text, default="")
    urgency: Mapped[Urgency] = mapped_column(String(8), default=Urgency.NORMAL)
    created_by_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_by_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    claimed_by_name: Mapped[str | None] = mapped_column(String(200), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_via: Mapped[ClaimVia | None] = mapped_column(String(16), default=None)  # None: "api" (older claims)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    snapshot: Mapped[dict[str, Any]] = mapped_column()
    assessment_status: Mapped[AssessmentStatus] = mapped_column(String(16), default=AssessmentStatus.NOT_REQUESTED)
    ai_assessment_data: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Each escalation step as it ran: `{"step", "at", "users": [{"id", "name", "reason"}]}`, no users when skipped.
    # Written under the handoff's row lock, so a senior is paged once however many workers fire steps.
    paging: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list, server_default=text("'[]'"))


class AssessmentFeedbackRow(Base):
    """One senior's verdict on a handoff's AI assessment; a second one from the same user replaces it."""

    __tablename__ = "assessment_feedback"
    __table_args__ = (
        UniqueConstraint("handoff_id", "user_id", name="uq_assessment_feedback_handoff_user"),
        Index("ix_assessment_feedback_account", "account_id"),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("handoffs.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_name: Mapped[str] = mapped_column(String(200))
    helpful: Mapped[bool] = mapped_column(Boolean)
    resolved_by_step: Mapped[int | None] = mapped_column(Integer, default=None)
    # The text of that suggested step, kept so later assessments can rank it without the old handoff.
    resolved_step: Mapped[str | None] = mapped_column(Text, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
