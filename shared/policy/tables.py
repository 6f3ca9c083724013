"""The policy's tables: an account's escalation timings and the timers they set."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import AutoId, Base
from shared.db.types import JSONDocument


class EscalationPolicyRow(Base):
    """An account's reminder and stale-claim timings; an account without a row has the defaults."""

    __tablename__ = "escalation_policies"

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    reminder_low_s: Mapped[int] = mapped_column(Integer)
    reminder_normal_s: Mapped[int] = mapped_column(Integer)
    reminder_high_s: Mapped[int] = mapped_column(Integer)
    max_reminders: Mapped[int] = mapped_column(Integer)
    stale_claim_s: Mapped[int] = mapped_column(Integer)
    # The escalation steps as saved (`[{"after_s", "notify"}]`); NULL is the default, every senior at once.
    steps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument, default=None)
    email_pick_up_links: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HandoffTimer(Base):
    """Due work of one handoff: a reminder round, an escalation step (`round` is its index) or a stale-claim
    check. Time is data, not a sleep.

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
    kind: Mapped[str] = mapped_column(String(16))  # "reminder" | "claim_stale" | "step"
    round: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column()
    # Stale claims: the newest session message seen when the timer was set; a newer one pushes it on.
    last_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
