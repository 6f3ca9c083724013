"""The on-call table: one row per account holding its document as saved, read back as it was written."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import Base


class OnCallRow(Base):
    """An account's on-call document (zone, rotations, overrides); an account without a row has the empty one."""

    __tablename__ = "on_call_documents"

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
