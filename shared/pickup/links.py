"""A senior's pick-up link for an escalation, made when their first email is written and the same ever after."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.config import Settings
from shared.db.upsert import insert_missing
from shared.ids import new_id
from shared.pickup.tables import PickUpLinkRow
from shared.pickup.tokens import LinkKeys, new_salt, token_hash


@dataclass(frozen=True)
class PickUpLinks:
    """How links are made: the keys of HANDOFF_SECRET_KEY and HANDOFF_PICK_UP_LINK_TTL_S."""

    keys: LinkKeys
    ttl_s: int

    @classmethod
    def from_settings(cls, settings: Settings) -> PickUpLinks:
        return cls(LinkKeys.from_secret(settings.secret_key), settings.pick_up_link_ttl_s)

    async def token_for(
        self, db: AsyncSession, *, handoff_id: uuid.UUID, account_id: uuid.UUID, user_id: uuid.UUID
    ) -> str | None:
        """See `link_token`."""
        return await link_token(
            db, handoff_id=handoff_id, account_id=account_id, user_id=user_id, keys=self.keys, ttl_s=self.ttl_s
        )


async def link_token(
    db: AsyncSession,
    *,
    handoff_id: uuid.UUID,
    account_id: uuid.UUID,
    user_id: uuid.UUID,
    keys: LinkKeys,
    ttl_s: int,
) -> str | None:
    """The token of the senior's link, made now if this is their first email; None once it has expired.

    Two notifiers writing the first email at once make one row (unique handoff and user), and both read
    back the token of the row that stands. Written in the caller's unit of work.
    """
    now = utcnow()
    salt = new_salt()
    token = keys.token(salt, handoff_id, user_id)
    await insert_missing(
        db,
        PickUpLinkRow,
        {
            "id": new_id(),
            "handoff_id": handoff_id,
            "account_id": account_id,
            "user_id": user_id,
            "token_hash": token_hash(token),
            "salt": salt.hex(),
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_s),
        },
    )
    for _ in range(2):
        row = await _link_of(db, handoff_id, user_id)
        if row.expires_at <= now:
            return None
        if row.token_hash == token_hash(token):
            return token  # the row this call made
        found = keys.rederive(bytes.fromhex(row.salt), handoff_id, user_id, row.token_hash)
        if found is not None:
            return found
        # No key of HANDOFF_SECRET_KEY made this link any more, so it cannot be written again: a new token
        # takes its place with the same expiry, unless another writer replaced it first.
        replaced = await db.execute(
            update(PickUpLinkRow)
            .where(PickUpLinkRow.id == row.id, PickUpLinkRow.token_hash == row.token_hash)
            .values(salt=salt.hex(), token_hash=token_hash(token))
            .execution_options(synchronize_session=False)
        )
        if replaced.rowcount == 1:  # type: ignore[attr-defined]
            return token
    return None


async def _link_of(db: AsyncSession, handoff_id: uuid.UUID, user_id: uuid.UUID) -> PickUpLinkRow:
    query = select(PickUpLinkRow).where(PickUpLinkRow.handoff_id == handoff_id, PickUpLinkRow.user_id == user_id)
    row = (await db.execute(query.execution_options(populate_existing=True))).scalar_one()
    return row
