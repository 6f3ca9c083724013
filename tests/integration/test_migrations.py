"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, both ways."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.migrate import alembic_config, upgrade
from shared.db.models import Base
from tests.conftest import fresh_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}"
        return
    with fresh_pg_database() as url:
        yield url


def differences(url: str) -> list[object]:
    """What autogenerate would still want to change: nothing, when the migrations match the models."""

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_up_down_and_up_again_matches_the_models(empty_database: str) -> None:
    # A thread of its own: Alembic's environment runs an event loop of its own.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, empty_database).result()
        assert pool.submit(differences, empty_database).result() == []
        pool.submit(command.downgrade, alembic_config(empty_database), "0002").result()
        pool.submit(upgrade, empty_database).result()
        assert pool.submit(differences, empty_database).result() == []
