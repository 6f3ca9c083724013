"""Delivery records on the wire."""

from __future__ import annotations

from typing import Literal

import msgspec

Channel = Literal["email", "psa", "webhook"]
DeliveryStatus = Literal["pending", "sent", "failed", "skipped"]
# Stored only: a claimed row being sent right now, shown to clients as `pending`.
SENDING = "sending"


class DeliveryOut(msgspec.Struct, kw_only=True):
    channel: Channel
    recipient: str
    round: int
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    sent_at: str | None
