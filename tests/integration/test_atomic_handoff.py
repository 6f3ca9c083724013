"""A handoff whose transaction fails leaves nothing behind: no handoff, no outbox row, an active session."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from shared.bootstrap import Runtime
from tests.support.db import handoffs_of_session, outbox_rows
from tests.support.tenants import TenantFactory


async def _fail_outbox_inserts_for(runtime: Runtime, account_id: uuid.UUID) -> list[str]:
    """Install a database trigger that rejects this account's outbox rows: a real failure after the handoff insert."""
    name = f"fail_outbox_{account_id.hex}"
    if runtime.engine.dialect.name == "postgresql":
        create = [
            f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'outbox unavailable'; END $$""",
            f"""CREATE TRIGGER {name} BEFORE INSERT ON outbox FOR EACH ROW
                WHEN (NEW.account_id = '{account_id}') EXECUTE FUNCTION {name}()""",
        ]
        drop = [f"DROP TRIGGER {name} ON outbox", f"DROP FUNCTION {name}()"]
    else:
        create = [
            f"""CREATE TRIGGER {name} BEFORE INSERT ON outbox WHEN NEW.account_id = '{account_id.hex}'
                BEGIN SELECT RAISE(ABORT, 'outbox unavailable'); END"""
        ]
        drop = [f"DROP TRIGGER {name}"]
    async with runtime.engine.begin() as connection:
        for statement in create:
            await connection.execute(text(statement))
    return drop


@pytest.fixture
async def broken_outbox(runtime: Runtime, tenants: TenantFactory):  # type: ignore[no-untyped-def]
    tenant = await tenants.create()
    drop = await _fail_outbox_inserts_for(runtime, tenant.account_id)
    yield tenant
    async with runtime.engine.begin() as connection:
        for statement in drop:
            await connection.execute(text(statement))


async def test_failure_after_the_handoff_insert_rolls_everything_back(broken_outbox, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    junior = broken_outbox["junior"]
    session = await junior.new_session()

    response = await junior.post(f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "escalate"})

    assert response.status_code == 500
    assert response.json() == {
        "status_code": 500,
        "code": "internal_error",
        "detail": "the server could not complete the request",
    }
    assert await handoffs_of_session(runtime, session["id"]) == []
    assert await outbox_rows(runtime, broken_outbox.account_id) == []
    after = (await junior.get(f"/api/v1/ai-sessions/{session['id']}")).json()
    assert after["status"] == "active"
    assert after["escalation_package"] is None
