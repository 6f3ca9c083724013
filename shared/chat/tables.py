"""The chat destinations' table: an account's Teams and Slack webhooks, their URLs sealed like PSA credentials."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.chat.schemas import ChatKind
from shared.clock import utcnow
from shared.db.base import AutoId, Base


class ChatDestinationRow(Base):
    """One Teams or Slack webhook of an account. The URL is a credential: sealed, never answered; `host` is shown.

    `enabled_since` is when it last became enabled (null while disabled): a destination gets the escalations
    created since then, never older ones, whatever order the jobs and the sweeper run in.
    """

    __tablename__ = "chat_destinations"
    __table_args__ = (UniqueConstraint("account_id", "label", name="uq_chat_destinations_account_label"),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ChatKind] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(80))
    url_encrypted: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean)
    enabled_since: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
