"""Advisory locks held until the transaction ends: PostgreSQL's; none on SQLite, which takes its one write lock
when a transaction begins, so there is nothing to lock apart."""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import functions

_WAIT_FOR_LOCK = select(
    functions.func.pg_advisory_xact_lock(bindparam("namespace", type_=Integer()), bindparam("key", type_=Integer()))
)


def _on_postgresql(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


async def try_transaction_lock(db: AsyncSession, key: int) -> bool:
    """Take lock `key` until the transaction ends unless another holds it; False when one does (never on SQLite)."""
    if not _on_postgresql(db):
        return True
    return bool(await db.scalar(select(functions.func.pg_try_advisory_xact_lock(key))))


async def transaction_lock(db: AsyncSession, namespace: int, key: int) -> None:
    """Wait for lock (`namespace`, `key`) and hold it until the transaction ends (nothing on SQLite).

    The two-key form: its keys never meet the one-key locks of `try_transaction_lock`.
    """
    if _on_postgresql(db):
        await db.execute(_WAIT_FOR_LOCK, {"namespace": namespace, "key": key})
