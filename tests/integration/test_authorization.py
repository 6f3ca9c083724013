"""Every endpoint against every kind of caller who must be refused, or must not learn anything."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.tenants import Actor, Tenant, TenantFactory


@dataclass
class World:
    tenant: Tenant
    session_id: str
    handoff_id: str
    park_id: str
    user_path: str


@pytest.fixture
async def world(tenants: TenantFactory) -> World:
    tenant = await tenants.create(junior="engineer", senior="engineer", viewer="viewer", gone="engineer")
    junior = tenant["junior"]
    session = await junior.new_session()
    handoff = await junior.escalate((await junior.new_session("escalated"))["id"])
    park = (
        await junior.post(
            f"/api/v1/ai-sessions/{(await junior.new_session('parked'))['id']}/handoff", json={"intent": "park"}
        )
    ).json()
    gone = tenant["gone"]
    deleted = await tenant.service.request("DELETE", f"/api/v1/accounts/{tenant.account_id}/users/{gone.id}")
    assert deleted.status_code == 200
    return World(
        tenant, session["id"], handoff["id"], park["id"], f"/api/v1/accounts/{tenant.account_id}/users/{junior.id}"
    )


USER_BODY = {"email": "j@msp.test", "name": "J", "role": "engineer", "active": True}
MESSAGE = {"role": "engineer", "content": "hello"}

# (method, path template, body, status for a viewer of the account, status for an engineer of another account)
ENDPOINTS: list[tuple[str, str, Any, int, int]] = [
    ("PUT", "{user_path}", USER_BODY, 403, 403),
    ("DELETE", "{user_path}", None, 403, 403),
    ("POST", "/api/v1/ai-sessions", {"title": "t"}, 403, 201),
    ("GET", "/api/v1/ai-sessions/{session_id}", None, 200, 404),
    ("POST", "/api/v1/ai-sessions/{session_id}/messages", MESSAGE, 403, 404),
    ("POST", "/api/v1/ai-sessions/{session_id}/handoff", {"intent": "escalate"}, 403, 404),
    ("GET", "/api/v1/ai-sessions/escalations", None, 403, 200),
    ("GET", "/api/v1/handoffs/{handoff_id}", None, 200, 404),
    ("POST", "/api/v1/handoffs/{handoff_id}/claim", None, 403, 404),
    ("POST", "/api/v1/handoffs/{park_id}/resume", None, 404, 404),
    ("POST", "/api/v1/handoffs/{handoff_id}/withdraw", None, 403, 404),
]
CODES = {200: None, 201: None, 401: "unauthorized", 403: "forbidden", 404: "not_found"}


async def _call(actor: Actor | None, world: World, method: str, template: str, body: Any, http: Any) -> Any:
    path = template.format(**vars(world))
    kwargs = {"json": body} if body is not None else {}
    if actor is None:
        return await http.request(method, path, **kwargs)
    return await actor.request(method, path, **kwargs)


def _check(response: Any, status: int, who: str, method: str, template: str) -> None:
    assert response.status_code == status, f"{who} {method} {template}: {response.status_code} {response.text}"
    code = CODES[status]
    if code is not None:
        body = response.json()
        assert body["code"] == code
        assert body["status_code"] == status
        assert isinstance(body["detail"], str)


@pytest.mark.parametrize(("method", "template", "body", "viewer_status", "foreign_status"), ENDPOINTS)
async def test_authorization_matrix(
    world: World,
    tenants: TenantFactory,
    method: str,
    template: str,
    body: Any,
    viewer_status: int,
    foreign_status: int,
) -> None:
    tenant = world.tenant
    junior = tenant["junior"]
    forged = tenants.actor(junior.id, tenant.account_id, "engineer", "forged")
    forged.token = forged.token[:-4] + ("AAAA" if not forged.token.endswith("AAAA") else "BBBB")
    foreign_tenant = await tenants.create(outsider="engineer")
    unknown_role = tenants.actor(uuid.uuid4(), tenant.account_id, "superuser", "x")
    no_account = tenants.actor(uuid.uuid4(), None, "engineer", "x")

    refused_401 = {
        "no token": None,
        "bad signature": forged,
        "expired": tenants.expired(junior),
        "deleted user": tenant["gone"],
        "unknown role": unknown_role,
        "user without account": no_account,
    }
    for who, actor in refused_401.items():
        response = await _call(actor, world, method, template, body, junior.http)
        _check(response, 401, who, method, template)

    garbage = await junior.http.request(
        method, template.format(**vars(world)), headers={"Authorization": "Bearer not.a.jwt"}
    )
    _check(garbage, 401, "garbage token", method, template)

    viewer = await _call(tenant["viewer"], world, method, template, body, junior.http)
    _check(viewer, viewer_status, "viewer", method, template)
    foreign = await _call(foreign_tenant["outsider"], world, method, template, body, junior.http)
    _check(foreign, foreign_status, "engineer of another account", method, template)
    if template == "/api/v1/ai-sessions/escalations":
        assert foreign.json()["items"] == []


async def test_service_token_acts_on_the_directory_only(world: World) -> None:
    service = world.tenant.service
    assert (await service.request("PUT", world.user_path, json=USER_BODY)).status_code == 200
    refused = await service.post("/api/v1/ai-sessions", json={"title": "t"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
