"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL, both ways."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.migrate import alembic_config, head_revision, upgrade
from shared.schema import metadata
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
        return list(compare_metadata(context, metadata))

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


def outbox_of(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    async def run() -> list[tuple[object, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement), params)
                return [tuple(row) for row in result.all()] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_pending_rows_request_id_moves_out_of_its_payload_and_back(empty_database: str) -> None:
    payload = '{"handoff_id": "h", "request_id": "trace-9"}'
    insert = (
        "INSERT INTO outbox (account_id, kind, topic, payload, created_at, available_at, attempts)"
        " VALUES (NULL, 'job', 'assess', :payload, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 0)"
    )
    if "postgresql" in empty_database:
        insert = insert.replace(":payload", "CAST(CAST(:payload AS text) AS jsonb)")  # a document, not a JSON string
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, empty_database).result()
        pool.submit(command.downgrade, alembic_config(empty_database), "0005").result()
        pool.submit(outbox_of, empty_database, insert, payload=payload).result()
        pool.submit(upgrade, empty_database).result()
        [(request_id, moved)] = pool.submit(
            outbox_of, empty_database, "SELECT request_id, payload FROM outbox"
        ).result()
        assert request_id == "trace-9"
        assert (json.loads(moved) if isinstance(moved, str) else moved) == {"handoff_id": "h"}
        pool.submit(command.downgrade, alembic_config(empty_database), "0005").result()
        [(restored,)] = pool.submit(outbox_of, empty_database, "SELECT payload FROM outbox").result()
        assert (json.loads(restored) if isinstance(restored, str) else restored) == {
            "handoff_id": "h",
            "request_id": "trace-9",
        }


def test_the_newest_revision_is_the_one_alembic_upgrades_to(tmp_path: Path) -> None:
    """`/readyz` compares the database with `head_revision`, which reads the scripts without Alembic: it names the
    head Alembic itself finds, and a second head is refused rather than one picked."""
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head_revision() is not None

    scripts = tmp_path / "migrations"
    (scripts / "versions").mkdir(parents=True)
    for name, revision, down in [("a", "0001", None), ("b", "0002", "0001"), ("c", "0003", "0001")]:
        (scripts / "versions" / f"{name}.py").write_text(f"revision = {revision!r}\ndown_revision = {down!r}\n")
    with pytest.raises(RuntimeError, match="several heads: 0002, 0003"):
        head_revision(scripts)
    (scripts / "versions" / "d.py").write_text("revision: str = '0004'\ndown_revision = ('0002', '0003')\n")
    assert head_revision(scripts) == "0004"
