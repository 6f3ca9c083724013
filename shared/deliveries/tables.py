"""The deliveries' table: one row per notification sent, or to send."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import AutoId, Base
from shared.deliveries.schemas import DeliveryState


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
    step: Mapped[int | None] = mapped_column(Integer, default=None)  # email of round 0: the step that paged them
    status: Mapped[DeliveryState] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    external_id: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
