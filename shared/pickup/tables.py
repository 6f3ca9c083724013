"""Pick-up links: one per escalation and senior it emailed, the token kept only as its hash."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import Base


class PickUpLinkRow(Base):
    """A senior's personal link to one escalation.

    The token is HMAC-SHA256 under a key of HANDOFF_SECRET_KEY over `salt`, the handoff and the user, so a
    reminder can carry the same link again while only `token_hash` (SHA-256 of the token) is stored.
    """

    __tablename__ = "pick_up_links"
    __table_args__ = (UniqueConstraint("handoff_id", "user_id", name="uq_pick_up_links_handoff_user"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    handoff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("handoffs.id"))
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    salt: Mapped[str] = mapped_column(String(32))  # 16 random bytes, hex
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # when the first email was written
    expires_at: Mapped[datetime] = mapped_column()
