"""The schema: directory, AI sessions and their messages, handoffs, outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.clock import utcnow
from shared.db.types import JSONDocument, UTCDateTime
from shared.deliveries.schemas import DeliveryState
from shared.directory.schemas import DirectoryRole
from shared.handoffs.schemas import AssessmentStatus, HandoffStatus, Intent, Urgency
from shared.ids import new_id
from shared.integrations.schemas import PSAProvider
from shared.sessions.schemas import MessageKind, MessageRole, SessionStatus, StepStatus

# SQLite only auto-increments an INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONDocument}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A directory entry, synced by the main application."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[DirectoryRole] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


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
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    snapshot: Mapped[dict[str, Any]] = mapped_column()
    assessment_status: Mapped[AssessmentStatus] = mapped_column(String(16), default=AssessmentStatus.NOT_REQUESTED)
    ai_assessment_data: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class OutboxRow(Base):
    """An event or job written with the change that caused it; the relay sends it after commit."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL AND dead_at IS NULL"),
            sqlite_where=text("published_at IS NULL AND dead_at IS NULL"),
        ),
        Index(
            "ix_outbox_published",
            "published_at",
            postgresql_where=text("published_at IS NOT NULL"),
            sqlite_where=text("published_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    kind: Mapped[str] = mapped_column(String(8))  # "event" or "job"
    topic: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(128), default=None)
    payload: Mapped[dict[str, Any]] = mapped_column()
    # The request id of the work that wrote the row: its jobs log under it; the event itself never carries it.
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # Set aside after too many failures that are not an outage: kept with its error, never retried.
    dead_at: Mapped[datetime | None] = mapped_column(default=None)


class Delivery(Base):
    """One notification of one handoff to one recipient over one channel and round; the row makes sends idempotent.

    `pending` -> `sending` (claimed, with a lease) -> `sent` | `failed` | `skipped`; a lease that runs out
    puts the row up for grabs again, so a worker that died mid-send is taken over.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("handoff_id", "recipient", "channel", "round", name="uq_deliveries_handoff_recipient_round"),
        Index(
            "ix_deliveries_unfinished",
            "updated_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("handoffs.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    round: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))  # 0: the escalation itself
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    status: Mapped[DeliveryState] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    external_id: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PSAConnectionRow(Base):
    """An account's PSA (or webhook) connection; credentials are stored encrypted, never returned."""

    __tablename__ = "psa_connections"

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    provider: Mapped[PSAProvider] = mapped_column(String(16))
    base_url: Mapped[str] = mapped_column(String(500))
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboundAllowRow(Base):
    """The hosts and CIDRs an account's own PSA or webhook may be although private; set by `service` only."""

    __tablename__ = "outbound_allow_lists"

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    hosts: Mapped[list[str]] = mapped_column(JSONDocument)
    cidrs: Mapped[list[str]] = mapped_column(JSONDocument)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EscalationPolicyRow(Base):
    """An account's reminder and stale-claim timings; an account without a row has the defaults."""

    __tablename__ = "escalation_policies"

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reminder_low_s: Mapped[int] = mapped_column(Integer)
    reminder_normal_s: Mapped[int] = mapped_column(Integer)
    reminder_high_s: Mapped[int] = mapped_column(Integer)
    max_reminders: Mapped[int] = mapped_column(Integer)
    stale_claim_s: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HandoffTimer(Base):
    """Due work of one handoff: a reminder round or a stale-claim check. Time is data, not a sleep.

    Pending while neither `fired_at` nor `cancelled_at` is set; whichever worker locks it first when it
    is due fires it, in the same transaction that records the firing.
    """

    __tablename__ = "handoff_timers"
    __table_args__ = (
        UniqueConstraint("handoff_id", "kind", "round", name="uq_handoff_timers_handoff_kind_round"),
        Index(
            "ix_handoff_timers_due",
            "due_at",
            postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
            sqlite_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    handoff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("handoffs.id"), index=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(16))  # "reminder" | "claim_stale"
    round: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column()
    # Stale claims: the newest session message seen when the timer was set; a newer one pushes it on.
    last_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)


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
