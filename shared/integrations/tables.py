"""The integrations' tables: an account's PSA or webhook connection and its outbound allow-list."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import Base
from shared.db.types import JSONDocument
from shared.integrations.schemas import PSAProvider


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
