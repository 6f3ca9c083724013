"""Engine and session factory for PostgreSQL (asyncpg) and SQLite (aiosqlite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.db.outage import patient

_encode_json = msgspec.json.Encoder().encode
_FRESH = "handoff_fresh"  # a connection not handed out yet: nothing to ping


def json_serializer(document: Any) -> str:
    """JSON columns are written through msgspec: several times the stdlib's speed on a snapshot's messages."""
    return _encode_json(document).decode()


def json_deserializer(text: str | bytes) -> Any:
    return msgspec.json.decode(text)


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and write-locking transactions.

    On PostgreSQL a new connection rides out a short outage (`outage.patient`), a pooled one is pinged before it is
    handed out, and a process holds at most
    `pool_size + max_overflow` connections (HANDOFF_DB_POOL_SIZE, HANDOFF_DB_MAX_OVERFLOW); deploy/README.md says
    how to size them against `max_connections`.
    """
    parsed = make_url(url)
    json_codec: dict[str, Any] = {"json_serializer": json_serializer, "json_deserializer": json_deserializer}
    if parsed.get_backend_name() != "sqlite":
        # The same ceiling as `pool_size` + `max_overflow`, but every connection once made is kept: the pool's own
        # overflow connections are closed as they come back, so a burst (a claim race) would open and close
        # connections over and over. A quiet process holds no more than its busiest moment needed.
        pg = create_async_engine(
            url, pool_size=pool_size + max_overflow, max_overflow=0, hide_parameters=True, **json_codec
        )

        @event.listens_for(pg.sync_engine, "do_connect")
        def _patiently(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
            # The asyncpg dialect opens connections with `async_creator_fn` when given one (asyncpg.connect else).
            cparams["async_creator_fn"] = patient(cparams.get("async_creator_fn", asyncpg.connect))

        @event.listens_for(pg.sync_engine, "connect")
        def _fresh(_dbapi_connection: Any, record: Any) -> None:
            record.info[_FRESH] = True

        @event.listens_for(pg.sync_engine, "checkout")
        def _alive(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            # A pooled connection is pinged before it is handed out, so one the server dropped while it sat in the
            # pool (a restart, a failover, a proxy) is replaced instead of failing the request: the pool discards it
            # and takes another, and a new one rides out a short outage (`patient`). One round trip in the simple
            # query protocol (no prepared statement, its own implicit transaction, PgBouncer's transaction mode
            # too), where the driver's own pre-ping costs three (BEGIN, a prepared query, ROLLBACK). Not the empty
            # query: asyncpg fails on its missing status, which would throw every pooled connection away.
            if record.info.pop(_FRESH, False):
                return
            try:
                dbapi_connection.run_async(lambda connection: connection.execute("SELECT 1"))
            except Exception as exc:
                raise DisconnectionError("the pooled connection is gone") from exc

        return pg

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # A database error's traceback is logged: the values a statement carried (tenants' text) stay out of it.
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True, **json_codec)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module so BEGIN is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: two writers wait in turn instead of
        # failing with "database is locked" when a read transaction upgrades to a write.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
