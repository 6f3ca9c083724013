"""Schemathesis over every operation of `/schema/openapi.json`, against a real server on PostgreSQL and Redis.

Each operation is called with a senior engineer's token and with an owner's, with positive and negative
data, and every answer is held to the document by schemathesis's own checks. Ids in paths name real rows
of one account, so the calls reach the handlers instead of stopping at a 404.

The run is bounded and the same on every machine: a fixed seed, derandomized, a few examples per operation.
Host names in generated URLs are never looked up: the server is given a resolver that answers with an
address reserved for documentation, which the outbound rules refuse.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import checks as st_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks

from services.handoff_api.app import create_app
from services.handoff_api.server import HandoffServer
from shared.config import Settings
from shared.outbound.guard import OutboundPolicy
from tests.conftest import JWT_SECRET, OUTBOUND_ALLOW
from tests.support.processes import spare_port
from tests.support.tenants import mint_token
from tests.support.waiting import eventually

ROLES = ("engineer", "owner")
EXAMPLES_PER_OPERATION = 10
SEED = 19

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES_PER_OPERATION, "mode": "all", "database": "none"},
        # The coverage phase draws every boundary of every field: hundreds of calls per operation, minutes in all.
        # The examples and fuzzing phases reach the same handlers; tests/integration/test_fuzz.py adds hostile values.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)

# Every check of `--checks all`, except those that contradict the contract, each with its reason:
CHECKS = [
    st_checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.missing_required_header,
    openapi_checks.unsupported_method,
    openapi_checks.allow_header_conformance,
    openapi_checks.ignored_auth,
    openapi_checks.use_after_free,
    openapi_checks.ensure_resource_availability,
]
EXCLUDED = {
    # The API is a tolerant reader: Litestar converts JSON scalars laxly (0 reads as false, "5" as 5) and unknown
    # query parameters are ignored. The contract promises a 400 for input it cannot use, not for every input the
    # document would not draw; tests/integration/test_input_rules.py holds the rejections it names.
    openapi_checks.negative_data_rejection,
    # Valid data is refused by design: a viewer's or an engineer's token meets 403s, a claimed handoff 409s,
    # paths name rows of another account's shape; "accepted" would need the caller to be allowed everything.
    openapi_checks.positive_data_acceptance,
    # Both identities are of one account and are meant to read its handoffs; the isolation of accounts and of
    # one engineer's sessions is tested in tests/integration/test_authorization.py.
    openapi_checks.object_level_authorization,
    # The performance figures have their own benchmark (tests/bench); a wall-clock bound here would be flaky.
    st_checks.max_response_time,
}
# Never ends by itself: tests/integration/test_sse.py and test_methods.py (HEAD) cover it.
STREAM_OPERATION = "streamEscalations"


@dataclass
class World:
    base_url: str
    account_id: uuid.UUID
    tokens: dict[str, str]
    ids: dict[str, dict[str, str]]  # per role: the value of each path parameter


async def documentation_address(host: str, port: int) -> Sequence[str]:
    """No host name is looked up: each is answered with TEST-NET-1, an address that is nobody's."""
    return ["192.0.2.1"]


@pytest.fixture(scope="module")
def live_api(settings_for: dict[str, Settings]) -> Iterator[str]:
    """`handoff api` as it runs in production (uvicorn, PostgreSQL, Redis) in a thread of its own."""
    settings = settings_for["postgresql"]
    outbound = OutboundPolicy(OUTBOUND_ALLOW.split(","), resolver=documentation_address)
    app = create_app(settings, outbound=outbound)
    port = spare_port()
    server = HandoffServer.for_app(app, host="127.0.0.1", port=port, log_level="WARNING")
    ready = threading.Event()

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        await eventually(lambda: server.started or task.done(), 30, "the API to start")
        ready.set()
        await task

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="schemathesis-api", daemon=True)
    thread.start()
    ready.wait(30)
    assert server.started, "the API did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _put_user(http: httpx.Client, service: str, account_id: uuid.UUID, role: str, name: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    body = {"email": f"{name.lower()}-{user_id.hex[:6]}@msp.test", "name": name, "role": role, "active": True}
    answer = http.put(
        f"/api/v1/accounts/{account_id}/users/{user_id}", json=body, headers={"Authorization": f"Bearer {service}"}
    )
    assert answer.status_code == 200, answer.text
    return user_id


@pytest.fixture(scope="module")
def world(live_api: str) -> World:
    account_id = uuid.uuid4()
    service = mint_token(JWT_SECRET, uuid.uuid4(), None, "service", "main application")
    tokens: dict[str, str] = {}
    ids: dict[str, dict[str, str]] = {}
    with httpx.Client(base_url=live_api) as http:
        junior_id = _put_user(http, service, account_id, "engineer", "Junior")
        junior = {"Authorization": f"Bearer {mint_token(JWT_SECRET, junior_id, account_id, 'engineer', 'Junior')}"}
        # The user the directory operations edit: never one whose token the run uses.
        target = _put_user(http, service, account_id, "viewer", "Target")
        opened = http.post("/api/v1/ai-sessions", json={"title": "VPN drops every hour"}, headers=junior)
        assert opened.status_code == 201, opened.text
        escalated = http.post(
            f"/api/v1/ai-sessions/{opened.json()['id']}/handoff",
            json={"intent": "escalate", "note": "tried the usual"},
            headers=junior,
        )
        assert escalated.status_code == 201, escalated.text
        # A saved connection, so reading it answers a body to check (nothing listens on port 9: nothing is sent).
        psa = {"provider": "webhook", "base_url": "http://127.0.0.1:9/psa", "credentials": {"signing_secret": "s" * 32}}
        saved = http.put(f"/api/v1/accounts/{account_id}/psa", json=psa, headers={"Authorization": f"Bearer {service}"})
        assert saved.status_code == 200, saved.text
        for role in ROLES:
            name = role.title()
            user_id = _put_user(http, service, account_id, role, name)
            tokens[role] = mint_token(JWT_SECRET, user_id, account_id, role, name)
            auth = {"Authorization": f"Bearer {tokens[role]}"}
            own = http.post("/api/v1/ai-sessions", json={"title": f"{name}'s printer"}, headers=auth)
            assert own.status_code == 201, own.text
            ids[role] = {
                "account_id": str(account_id),
                "user_id": str(target),
                "session_id": own.json()["id"],
                "handoff_id": escalated.json()["id"],
            }
    return World(live_api, account_id, tokens, ids)


def _document() -> dict[str, Any]:
    """The document `/schema/openapi.json` serves, from an app that is built but never started."""
    settings = Settings.from_env(
        {}, database_url="sqlite+aiosqlite://", jwt_secret=JWT_SECRET, secret_key="k" * 43 + "="
    )
    return dict(create_app(settings).openapi_schema.to_schema())


schema = schemathesis.openapi.from_dict(_document(), config=CONFIG).exclude(operation_id=STREAM_OPERATION)


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@schema.parametrize()
def test_every_operation_holds_to_the_document(case: Any, world: World) -> None:
    drawn = dict(case.path_parameters or {})
    for role in ROLES:
        # A well-formed id in a path names a real row of the caller's account; a malformed one is left as drawn.
        case.path_parameters = {
            name: world.ids[role][name] if name in world.ids[role] and _is_uuid(value) else value
            for name, value in drawn.items()
        } or case.path_parameters
        case.call_and_validate(
            base_url=world.base_url,
            headers={"Authorization": f"Bearer {world.tokens[role]}"},
            checks=CHECKS,
            excluded_checks=list(EXCLUDED),
            timeout=10,
        )
