"""The outbox's table: events and jobs written with the change that caused them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import AutoId, Base


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
    # The stream id an event got from a publish the Redis replicas did not confirm: its next publish asks for it.
    stream_id: Mapped[str | None] = mapped_column(String(41), default=None)
