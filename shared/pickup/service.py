"""What a pick-up link shows, and pressing it: a claim as the link's senior, by the directory as it is now.

Opening a link reads and never writes (mail scanners open every link); only `press_link` acts, through the
same claim as the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.clock import utcnow
from shared.directory.tables import User
from shared.directory.who import may_pick_up, standing_of
from shared.errors import Forbidden, LinkNotFound
from shared.handoffs.claims import claim_handoff
from shared.handoffs.schemas import Handoff, HandoffStatus
from shared.handoffs.tables import HandoffRow
from shared.pickup.tables import PickUpLinkRow
from shared.pickup.tokens import token_hash, well_formed


@dataclass(frozen=True)
class OpenedLink:
    """A link and its escalation as they stand, as plain values (they outlive the transaction)."""

    link_id: uuid.UUID
    handoff_id: uuid.UUID
    account_id: uuid.UUID
    holder_id: uuid.UUID
    holder_name: str
    may_pick_up: bool  # the holder is still an active senior of the account
    title: str
    urgency: str
    escalator_name: str
    escalated_at: datetime
    status: HandoffStatus
    claimed_by_id: uuid.UUID | None
    claimed_by_name: str | None
    claimed_at: datetime | None
    closed_at: datetime | None


async def open_link(db: AsyncSession, token: str) -> OpenedLink:
    """The link `token` names; LinkNotFound when it is malformed, unknown or expired. Writes nothing."""
    if not well_formed(token):
        raise LinkNotFound("malformed")
    query = select(PickUpLinkRow).where(PickUpLinkRow.token_hash == token_hash(token))
    link = (await db.execute(query)).scalar_one_or_none()
    if link is None:
        raise LinkNotFound("unknown")
    if link.expires_at <= utcnow():
        raise LinkNotFound("expired", link.id, link.handoff_id)
    handoff = await db.get(HandoffRow, link.handoff_id)
    if handoff is None:  # a link is only made for a handoff that exists, and handoffs are never deleted
        raise LinkNotFound("unknown", link.id, link.handoff_id)
    holder = await db.get(User, link.user_id)
    return OpenedLink(
        link_id=link.id,
        handoff_id=handoff.id,
        account_id=link.account_id,
        holder_id=link.user_id,
        holder_name=holder.name if holder is not None else "",
        may_pick_up=holder is not None and may_pick_up(standing_of(holder), link.account_id),
        title=str(handoff.snapshot.get("title", "")),
        urgency=str(handoff.urgency),
        escalator_name=handoff.created_by_name,
        escalated_at=handoff.created_at,
        status=HandoffStatus(handoff.status),
        claimed_by_id=handoff.claimed_by_id,
        claimed_by_name=handoff.claimed_by_name,
        claimed_at=handoff.claimed_at,
        closed_at=handoff.closed_at,
    )


async def press_link(db: AsyncSession, link: OpenedLink) -> Handoff:
    """Claim the escalation as the link's senior, under the rules of the API's claim (`via: "email_link"`).

    Forbidden when the directory no longer has them as an active senior of the account; otherwise whatever
    `claim_handoff` answers: the handoff (won now, or earlier by them), HandoffAlreadyClaimed or HandoffNotClaimable.
    """
    holder = await db.get(User, link.holder_id)
    if holder is None or not may_pick_up(standing_of(holder), link.account_id):
        raise Forbidden("you can no longer pick this up")
    principal = Principal(
        user_id=holder.id, account_id=holder.account_id, role=holder.role, name=holder.name, email=holder.email
    )
    return await claim_handoff(db, principal, link.handoff_id, via="email_link")
