"""An account's PSA connection: stored with its credentials sealed, read back without them."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.config import ConfigError
from shared.crypto import SecretBox
from shared.directory.who import require_account_manager
from shared.errors import InvalidInput, NotFound
from shared.integrations import webhook
from shared.integrations.allow_list import account_policy
from shared.integrations.schemas import REQUIRED_CREDENTIALS, PSAConnectionOut, PSAConnectionPut
from shared.integrations.tables import PSAConnectionRow
from shared.outbound.guard import OutboundPolicy


def masked_url(url: str) -> str:
    """`url` with its userinfo and query (and fragment) shown as `***`: they often carry a token or password."""
    parts = urlsplit(url)
    _, at, hostport = parts.netloc.rpartition("@")
    netloc = f"***@{hostport}" if at else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", "***" if parts.fragment else ""))


def _out(row: PSAConnectionRow) -> PSAConnectionOut:
    return PSAConnectionOut(
        provider=row.provider,
        base_url=masked_url(row.base_url),
        enabled=row.enabled,
        credentials_set=bool(row.credentials_encrypted),
    )


def _check_credentials(body: PSAConnectionPut) -> None:
    missing = [
        name for name in REQUIRED_CREDENTIALS[body.provider] if not str(body.credentials.get(name) or "").strip()
    ]
    if missing:
        raise InvalidInput(f"{body.provider} needs credentials: {', '.join(missing)}")
    for name, value in body.credentials.items():
        if name == "signing_secret" and isinstance(value, list):
            webhook.check_signing_secrets(value)
        elif not (isinstance(value, int | bool) or _short_text(value)):
            raise InvalidInput("credential values must be short strings")


def _short_text(value: Any) -> bool:
    return isinstance(value, str) and len(value.strip()) > 0 and len(value) <= 4000


async def put_psa_connection(
    db: AsyncSession,
    box: SecretBox,
    outbound: OutboundPolicy,
    principal: Principal,
    account_id: uuid.UUID,
    body: PSAConnectionPut,
) -> PSAConnectionOut:
    """Store the account's connection; a target that is not a public https host is an UnsafeTarget."""
    require_account_manager(principal, account_id)
    _check_credentials(body)
    outbound = await account_policy(db, outbound, account_id)
    await outbound.check_url(body.base_url, field="base_url")
    if body.provider == "halopsa":
        await outbound.check_url(str(body.credentials["auth_url"]), field="auth_url")
    row = await db.get(PSAConnectionRow, account_id, with_for_update=True)
    if row is None:
        row = PSAConnectionRow(account_id=account_id)
        db.add(row)
    row.provider = body.provider
    row.base_url = body.base_url
    row.credentials_encrypted = box.seal(body.credentials)
    row.enabled = body.enabled
    await db.flush()
    return _out(row)


async def get_psa_connection(db: AsyncSession, principal: Principal, account_id: uuid.UUID) -> PSAConnectionOut:
    require_account_manager(principal, account_id)
    row = await db.get(PSAConnectionRow, account_id)
    if row is None:
        raise NotFound("PSA connection")
    return _out(row)


async def load_connection(
    db: AsyncSession, box: SecretBox, account_id: uuid.UUID
) -> tuple[PSAConnectionRow, dict[str, Any]] | None:
    """The enabled connection of an account with its credentials opened, for the notifier only."""
    row = await db.get(PSAConnectionRow, account_id)
    if row is None or not row.enabled:
        return None
    return row, box.open(row.credentials_encrypted)


async def reseal_credentials(db: AsyncSession, box: SecretBox) -> int:
    """Re-encrypt every stored credential under the first key of `box`; how many were re-encrypted.

    All or nothing: a row that opens with none of the keys raises ConfigError naming its account.
    """
    rows = (await db.execute(select(PSAConnectionRow).with_for_update())).scalars().all()
    for row in rows:
        try:
            row.credentials_encrypted = box.reseal(row.credentials_encrypted)
        except ConfigError as exc:
            raise ConfigError(f"the PSA credentials of account {row.account_id} open with no key given") from exc
    await db.flush()
    return len(rows)
