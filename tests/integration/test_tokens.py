"""Tokens exactly as the main application mints them: plain PyJWT, the contract's claims, no `iat`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from shared.config import ConfigError
from tests.conftest import JWT_SECRET
from tests.support.servers import serving
from tests.support.sse import SSEClient
from tests.support.tenants import Actor, TenantFactory, mint_token


def _claims(actor: Actor, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": str(actor.id),
        "account_id": str(actor.account_id),
        "role": actor.role,
        "name": actor.name,
        "exp": int((datetime.now(UTC) + timedelta(minutes=10)).timestamp()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _seconds(delta: float) -> int:
    return int((datetime.now(UTC) + timedelta(seconds=delta)).timestamp())


@pytest.fixture
async def port(runtime: Runtime) -> AsyncIterator[int]:
    async with serving(create_app(runtime.settings, runtime=runtime)) as bound:
        yield bound


@pytest.mark.parametrize("skew_s", [-30, 0, 30])
async def test_a_contract_token_works_on_every_endpoint(
    client: httpx.AsyncClient, port: int, tenants: TenantFactory, skew_s: int
) -> None:
    """Every endpoint, called with tokens minted by a host whose clock is `skew_s` ahead of ours."""
    skew = timedelta(seconds=skew_s)
    tenant = await tenants.create(junior="engineer", senior="engineer", rival="engineer", owner="owner")
    # The main application's own token carries an account_id it does not need: it is ignored.
    service = Actor(
        uuid.uuid4(),
        None,
        "service",
        "main application",
        jwt.encode(
            {"sub": str(uuid.uuid4()), "role": "service", "account_id": str(uuid.uuid4()), "exp": _seconds(600)},
            JWT_SECRET,
            algorithm="HS256",
        ),
        client,
    )
    skewed = {key: tenants.actor(a.id, a.account_id, a.role, a.name, skew=skew) for key, a in tenant.users.items()}
    junior, senior, rival, owner = skewed["junior"], skewed["senior"], skewed["rival"], skewed["owner"]
    api = "/api/v1"
    calls: list[tuple[str, httpx.Response, int]] = []

    async def call(actor: Actor, method: str, path: str, expected: int, **kwargs: Any) -> dict[str, Any]:
        response = await actor.request(method, path, **kwargs)
        calls.append((f"{method} {path}", response, expected))
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
        return dict(response.json()) if response.content and response.text.startswith("{") else {}

    user_path = f"{api}/accounts/{tenant.account_id}/users/{uuid.uuid4()}"
    person = {"email": "new@msp.test", "name": "New Person", "role": "engineer", "active": True}
    await call(service, "PUT", user_path, 200, json=person)
    await call(owner, "PUT", user_path, 200, json={**person, "name": "Renamed"})
    await call(owner, "DELETE", user_path, 200)
    await call(owner, "GET", f"{api}/accounts/{tenant.account_id}/psa", 404)  # none set up yet: not a 401

    session = await call(junior, "POST", f"{api}/ai-sessions", 201, json={"title": "VPN drops every hour"})
    await call(
        junior,
        "POST",
        f"{api}/ai-sessions/{session['id']}/messages",
        201,
        json={"role": "engineer", "content": "Rebooted the firewall"},
    )
    await call(junior, "GET", f"{api}/ai-sessions", 200)
    await call(junior, "GET", f"{api}/ai-sessions/{session['id']}", 200)
    handoff = await call(junior, "POST", f"{api}/ai-sessions/{session['id']}/handoff", 201, json={"intent": "escalate"})
    await call(senior, "GET", f"{api}/ai-sessions/escalations", 200)
    await call(senior, "GET", f"{api}/handoffs/{handoff['id']}", 200)
    await call(senior, "GET", f"{api}/handoffs/{handoff['id']}/deliveries", 200)
    await call(senior, "POST", f"{api}/handoffs/{handoff['id']}/claim", 200)
    await call(rival, "POST", f"{api}/handoffs/{handoff['id']}/claim", 409)

    other = await call(junior, "POST", f"{api}/ai-sessions", 201, json={"title": "Printer offline"})
    second = await call(junior, "POST", f"{api}/ai-sessions/{other['id']}/handoff", 201, json={"intent": "escalate"})
    await call(junior, "POST", f"{api}/handoffs/{second['id']}/withdraw", 200)
    park = await call(junior, "POST", f"{api}/ai-sessions/{other['id']}/handoff", 201, json={"intent": "park"})
    await call(junior, "POST", f"{api}/handoffs/{park['id']}/resume", 200)

    stream = await SSEClient.connect(port, senior.token)
    assert stream.status == 200
    assert (await stream.next_frame()).event == "ready"
    await stream.close()
    assert all(response.status_code != 401 for _, response, _ in calls)


async def _status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/ai-sessions/escalations", headers=headers)).status_code


async def test_token_rules(client: httpx.AsyncClient, tenants: TenantFactory) -> None:
    tenant = await tenants.create(senior="engineer")
    senior = tenant["senior"]

    def bearer(claims: dict[str, Any], secret: str = JWT_SECRET, algorithm: str = "HS256") -> dict[str, str]:
        return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm=algorithm)}"}

    accepted = {
        "no iat": bearer(_claims(senior)),
        "iat 30 s ahead": bearer(_claims(senior, iat=_seconds(30))),
        "nbf 30 s ahead": bearer(_claims(senior, nbf=_seconds(30))),
        "expired 30 s ago": bearer(_claims(senior, exp=_seconds(-30))),
        "iat and nbf in the past": bearer(_claims(senior, iat=_seconds(-600), nbf=_seconds(-600))),
        "lower-case scheme": {"Authorization": f"bearer {jwt.encode(_claims(senior), JWT_SECRET)}"},
        "no name or email": bearer(_claims(senior, name=None)),
    }
    for why, headers in accepted.items():
        assert await _status(client, headers) == 200, why

    good = jwt.encode(_claims(senior), JWT_SECRET, algorithm="HS256")
    refused = {
        "no exp": bearer(_claims(senior, exp=None)),
        "expired past the leeway": bearer(_claims(senior, exp=_seconds(-120))),
        "iat past the leeway": bearer(_claims(senior, iat=_seconds(120))),
        "nbf past the leeway": bearer(_claims(senior, nbf=_seconds(120))),
        "wrong secret": bearer(_claims(senior), secret="another-secret-" + "y" * 32),
        "HS512": bearer(_claims(senior), algorithm="HS512"),
        "alg none": {"Authorization": "Bearer " + jwt.encode(_claims(senior), None, algorithm="none")},
        "Basic scheme": {"Authorization": f"Basic {good}"},
        "token alone": {"Authorization": good},
        "two tokens": {"Authorization": f"Bearer {good} {good}"},
        "empty bearer": {"Authorization": "Bearer "},
        "sub not a uuid": bearer(_claims(senior, sub="sam")),
        "role a list": bearer(_claims(senior, role=["engineer"])),
        "unknown role": bearer(_claims(senior, role="root")),
        "no account": bearer(_claims(senior, account_id=None)),
        "exp a string": bearer(_claims(senior, exp="tomorrow")),
    }
    for why, headers in refused.items():
        response = await client.get("/api/v1/ai-sessions/escalations", headers=headers)
        assert response.status_code == 401, why
        assert response.json()["code"] == "unauthorized", why


async def test_a_service_token_acts_for_no_account_whatever_it_claims(
    client: httpx.AsyncClient, tenants: TenantFactory
) -> None:
    tenant = await tenants.create(senior="engineer")
    claims = {"sub": str(uuid.uuid4()), "role": "service", "account_id": str(tenant.account_id), "exp": _seconds(60)}
    headers = {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}
    # It may not act as a user of the account it names...
    assert (await client.post("/api/v1/ai-sessions", json={"title": "t"}, headers=headers)).status_code == 403
    assert (await client.get("/api/v1/ai-sessions/escalations", headers=headers)).status_code == 403
    # ...but keeps the directory of every account.
    other = uuid.uuid4()
    body = {"email": "a@msp.test", "name": "A", "role": "engineer", "active": True}
    put = await client.put(f"/api/v1/accounts/{other}/users/{uuid.uuid4()}", json=body, headers=headers)
    assert put.status_code == 200


def test_a_short_jwt_secret_is_refused_at_start(runtime: Runtime) -> None:
    import msgspec

    settings = msgspec.structs.replace(runtime.settings, jwt_secret="x" * 31)
    with pytest.raises(ConfigError, match="HANDOFF_JWT_SECRET"):
        create_app(settings, runtime=runtime)


async def test_a_token_of_the_right_shape_from_plain_pyjwt_works(
    client: httpx.AsyncClient, tenants: TenantFactory
) -> None:
    """The helper our own tests use mints what the main application mints."""
    tenant = await tenants.create(senior="engineer")
    senior = tenant["senior"]
    token = mint_token(JWT_SECRET, senior.id, senior.account_id, "engineer", senior.name)
    assert "iat" not in jwt.decode(token, options={"verify_signature": False})
    assert await _status(client, {"Authorization": f"Bearer {token}"}) == 200
