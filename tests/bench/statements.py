"""The database floor: the statements one request executes, captured, then replayed with raw asyncpg.

The capture runs the request in-process against the same PostgreSQL database and records every
statement its unit of work executes (the directory lookup included), with its bound parameters.
The replay runs them in one transaction on a plain asyncpg connection, with the ids the request
made swapped for fresh ones, so each replay writes new rows the way a new request would.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_capturing: contextvars.ContextVar[list[Statement] | None] = contextvars.ContextVar("capturing", default=None)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Statement:
    sql: str
    parameters: tuple[Any, ...]

    @property
    def returns_rows(self) -> bool:
        head = self.sql.lstrip().split(None, 1)[0].upper()
        return head in {"SELECT", "WITH"} or " RETURNING " in self.sql.upper()


@contextmanager
def captured(engine: AsyncEngine) -> Iterator[list[Statement]]:
    """Statements executed from this task (and the tasks it starts) while the block runs."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool) -> None:
        target = _capturing.get()
        if target is None:
            return  # another task: the relay, a sweeper
        # An insertmanyvalues batch arrives as one statement with flat parameters, despite `many`.
        batches = parameters if many and parameters and isinstance(parameters[0], list | tuple) else [parameters]
        for one in batches:
            target.append(Statement(sql, tuple(one)))

    token = _capturing.set(seen)
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        _capturing.reset(token)


def swap(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, uuid.UUID) or type(value).__name__ == "UUID":  # asyncpg's own UUID type too
        return uuid.UUID(ids[str(value)]) if str(value) in ids else value
    if isinstance(value, str):
        return _UUID.sub(lambda m: ids.get(m.group(0), m.group(0)), value)
    if isinstance(value, list | tuple):
        return type(value)(swap(v, ids) for v in value)
    if isinstance(value, dict):
        return {k: swap(v, ids) for k, v in value.items()}
    return value


def new_ids(statements: list[Statement], keep: set[str]) -> set[str]:
    """The ids the request made itself: every UUID in its parameters that was not known before it."""
    found: set[str] = set()
    for statement in statements:
        for value in statement.parameters:
            found.update(_UUID.findall(str(value)))
    return found - keep


class Replay:
    """One captured request as a template: `run(conn, swap)` executes it in one transaction."""

    def __init__(self, statements: list[Statement], keep: set[str]) -> None:
        self.statements = statements
        self.made = new_ids(statements, keep)

    def ids(self, swap: Mapping[str, str]) -> dict[str, str]:
        return {**{made: str(uuid.uuid4()) for made in self.made}, **swap}

    async def run(self, conn: asyncpg.Connection, swap: Mapping[str, str]) -> list[str]:
        """Execute every statement in one transaction; the status or row count of each."""
        ids = self.ids(swap)
        results: list[str] = []
        async with conn.transaction():
            for statement in self.statements:
                results.append(await execute(conn, statement, ids))
        return results


async def execute(conn: asyncpg.Connection, statement: Statement, ids: Mapping[str, str]) -> str:
    parameters = swap(statement.parameters, ids)
    if statement.returns_rows:
        return f"ROWS {len(await conn.fetch(statement.sql, *parameters))}"
    return str(await conn.execute(statement.sql, *parameters))
