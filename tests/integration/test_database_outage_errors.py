"""A database out of connection slots is an outage (503), however SQLAlchemy wraps the driver's error."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.outage import is_database_outage
from tests.conftest import PG_ADMIN_DSN


async def test_a_server_out_of_connection_slots_reads_as_an_outage() -> None:
    role = f"handoff_no_slots_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0")
        host_part = PG_ADMIN_DSN.split("@", 1)[1]
        engine = create_async_engine(f"postgresql+asyncpg://{role}@{host_part}")
        try:
            with pytest.raises(DBAPIError) as refused:
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
        assert is_database_outage(refused.value)
    finally:
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()
