"""An account's chat destinations: the whole list replaced at once, URLs checked like a PSA target and sealed.

A destination is known by its label (unique in the account, compared without case). A PUT entry without `url`
keeps the URL stored for the destination of the same label and kind, so a client can rename nothing and toggle
`enabled` without holding the secret.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, Exists, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.auth.principal import Principal
from shared.chat.schemas import ChatDestinationOut, ChatDestinations, ChatDestinationsPut, ChatKind
from shared.chat.tables import ChatDestinationRow
from shared.clock import utcnow
from shared.config import ConfigError
from shared.crypto import SecretBox
from shared.db.locks import transaction_lock
from shared.directory.who import require_account_manager
from shared.errors import InvalidField, NotFound
from shared.input_rules import require_one_line
from shared.integrations.allow_list import account_policy
from shared.outbound.guard import OutboundPolicy

_LOCK_NAMESPACE = 0x43484154  # "CHAT": one PUT of an account's list at a time


UNOPENED = "its URL does not open with HANDOFF_SECRET_KEY; save it again"


@dataclass(frozen=True)
class Destination:
    """A destination with its URL opened (empty when it does not open): for the notifier and the test post only."""

    kind: ChatKind
    label: str
    url: str
    enabled: bool
    enabled_since: datetime | None

    def posts_about(self, created_at: datetime) -> bool:
        """True when it was enabled when an escalation made at `created_at` was made."""
        return self.enabled and self.enabled_since is not None and self.enabled_since <= created_at


def _out(row: ChatDestinationRow) -> ChatDestinationOut:
    return ChatDestinationOut(kind=row.kind, label=row.label, enabled=row.enabled, host=row.host, url_set=True)


async def _rows(db: AsyncSession, account_id: uuid.UUID) -> list[ChatDestinationRow]:
    query = select(ChatDestinationRow).where(ChatDestinationRow.account_id == account_id)
    return list((await db.execute(query.order_by(ChatDestinationRow.position))).scalars().all())


async def get_chat(db: AsyncSession, principal: Principal, account_id: uuid.UUID) -> ChatDestinations:
    require_account_manager(principal, account_id)
    return ChatDestinations(destinations=[_out(row) for row in await _rows(db, account_id)])


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


async def put_chat(
    db: AsyncSession,
    box: SecretBox,
    outbound: OutboundPolicy,
    principal: Principal,
    account_id: uuid.UUID,
    body: ChatDestinationsPut,
) -> ChatDestinations:
    """Replace the account's destinations with `body`; a URL that is not a safe target is an UnsafeTarget."""
    require_account_manager(principal, account_id)
    await transaction_lock(db, _LOCK_NAMESPACE, zlib.crc32(account_id.bytes) - 2**31)
    stored = {(row.label.casefold(), row.kind): row for row in await _rows(db, account_id)}
    policy = await account_policy(db, outbound, account_id)
    now = utcnow()

    labels: set[str] = set()
    wanted: list[tuple[ChatDestinationRow | None, str, ChatKind, bool, str | None]] = []
    for index, entry in enumerate(body.destinations):
        field = f"destinations[{index}]"
        _one_line(f"{field}.label", entry.label)
        label = entry.label.strip()
        if not label:
            raise InvalidField(f"{field}.label", "must not be blank")
        if label.casefold() in labels:
            raise InvalidField(f"{field}.label", "is the label of another destination in this list")
        labels.add(label.casefold())
        row = stored.get((label.casefold(), entry.kind))
        if entry.url is None:
            if row is None:
                raise InvalidField(f"{field}.url", f"is needed: no {entry.kind} destination {label!r} is stored yet")
        else:
            _one_line(f"{field}.url", entry.url)
            await policy.check_url(entry.url, field=f"{field}.url")
        wanted.append((row, label, entry.kind, entry.enabled, entry.url))

    # Gone first, so that a label may move to another kind in the same PUT without meeting itself.
    kept = {id(row) for row, *_ in wanted if row is not None}
    gone = [row.id for row in stored.values() if id(row) not in kept]
    if gone:
        await db.execute(delete(ChatDestinationRow).where(ChatDestinationRow.id.in_(gone)))
    rows: list[ChatDestinationRow] = []
    for position, (found, label, kind, enabled, url) in enumerate(wanted):
        row = found or ChatDestinationRow(account_id=account_id, kind=kind, created_at=now)
        if found is None:
            db.add(row)
        if url is not None:
            row.url_encrypted = box.seal({"url": url})
            row.host = _host(url)
        if enabled and not row.enabled:
            row.enabled_since = now
        elif not enabled:
            row.enabled_since = None
        row.enabled = enabled
        row.label = label
        row.position = position
        rows.append(row)
    await db.flush()
    return ChatDestinations(destinations=[_out(row) for row in rows])


def _one_line(field: str, value: str) -> None:
    try:
        require_one_line(field, value)
    except ValueError:
        raise InvalidField(field, "must be one line without control characters") from None


def _opened(box: SecretBox, row: ChatDestinationRow) -> Destination:
    """The row with its URL opened; an empty URL when it opens with none of the keys (the key list was changed)."""
    try:
        url = str(box.open(row.url_encrypted)["url"])
    except ConfigError:
        url = ""
    return Destination(kind=row.kind, label=row.label, url=url, enabled=row.enabled, enabled_since=row.enabled_since)


async def chat_destinations(db: AsyncSession, box: SecretBox, account_id: uuid.UUID) -> list[Destination]:
    """Every destination of the account with its URL opened, enabled or not; for the notifier only."""
    return [_opened(box, row) for row in await _rows(db, account_id)]


async def destination_to_test(
    db: AsyncSession, box: SecretBox, principal: Principal, account_id: uuid.UUID, label: str
) -> Destination:
    """The destination a test post goes to, enabled or not; an unknown label is a NotFound."""
    require_account_manager(principal, account_id)
    for row in await _rows(db, account_id):
        if row.label.casefold() == label.strip().casefold():
            return _opened(box, row)
    raise NotFound("chat destination")


async def has_chat_destinations(db: AsyncSession, account_id: uuid.UUID) -> bool:
    """True when the account has an enabled destination: only then is a chat post worth a job."""
    query = select(ChatDestinationRow.id).where(
        ChatDestinationRow.account_id == account_id, ChatDestinationRow.enabled.is_(True)
    )
    return (await db.scalar(query.limit(1))) is not None


def destination_posting_about(
    account_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
    created_at: ColumnElement[datetime] | InstrumentedAttribute[datetime],
) -> Exists:
    """SQL: the account has a destination that was enabled when an escalation made at `created_at` was made."""
    return exists().where(
        ChatDestinationRow.account_id == account_id,
        ChatDestinationRow.enabled.is_(True),
        ChatDestinationRow.enabled_since <= created_at,
    )


async def reseal_chat_urls(db: AsyncSession, box: SecretBox) -> int:
    """Re-encrypt every stored webhook URL under the first key of `box`; how many were re-encrypted.

    All or nothing: a URL that opens with none of the keys raises ConfigError naming its account.
    """
    rows = (await db.execute(select(ChatDestinationRow).with_for_update())).scalars().all()
    for row in rows:
        try:
            row.url_encrypted = box.reseal(row.url_encrypted)
        except ConfigError as exc:
            raise ConfigError(f"the chat destinations of account {row.account_id} open with no key given") from exc
    await db.flush()
    return len(rows)
