"""Directory sync: the main application PUTs and DELETEs users; the directory gates sign-in."""

from __future__ import annotations

import uuid

from tests.support.tenants import TenantFactory


async def test_put_is_idempotent_and_delete_is_soft(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner")
    user_id = uuid.uuid4()
    path = f"/api/v1/accounts/{tenant.account_id}/users/{user_id}"
    body = {"email": "dana@msp.test", "name": "Dana", "role": "engineer", "active": True}

    first = await tenant.service.request("PUT", path, json=body)
    second = await tenant.service.request("PUT", path, json=body)
    assert first.status_code == second.status_code == 200
    assert second.json() == {
        "id": str(user_id),
        "account_id": str(tenant.account_id),
        "email": "dana@msp.test",
        "name": "Dana",
        "role": "engineer",
        "active": True,
        "deleted_at": None,
    }

    deleted = await tenant["owner"].request("DELETE", path)
    assert deleted.status_code == 200
    assert deleted.json()["deleted_at"] is not None

    restored = await tenant.service.request("PUT", path, json=body)
    assert restored.json()["deleted_at"] is None


async def test_directory_wins_over_token_and_gates_sign_in(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", owner="owner")
    junior = tenant["junior"]
    path = f"/api/v1/accounts/{tenant.account_id}/users/{junior.id}"

    demoted = {"email": "j@msp.test", "name": "Junior Renamed", "role": "viewer", "active": True}
    assert (await tenant["owner"].request("PUT", path, json=demoted)).status_code == 200
    refused = await junior.post("/api/v1/ai-sessions", json={"title": "x"})
    assert refused.status_code == 403  # the token says engineer; the directory says viewer

    inactive = {**demoted, "role": "engineer", "active": False}
    assert (await tenant["owner"].request("PUT", path, json=inactive)).status_code == 200
    response = await junior.get("/api/v1/ai-sessions/escalations")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


async def test_user_of_another_account_is_not_found(tenants: TenantFactory) -> None:
    first = await tenants.create(owner="owner", junior="engineer")
    second = await tenants.create(owner="owner")
    path = f"/api/v1/accounts/{second.account_id}/users/{first['junior'].id}"
    body = {"email": "x@msp.test", "name": "X", "role": "engineer", "active": True}

    # The first account's owner cannot touch the second account at all.
    foreign = await first["owner"].request("PUT", path, json=body)
    assert foreign.status_code == 404
    # The main application moves a user across accounts only when it says so.
    refused = await first.service.request("PUT", path, json=body)
    assert refused.status_code == 409
    assert refused.json()["code"] == "user_in_other_account"


async def test_bad_directory_bodies_are_400(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner")
    path = f"/api/v1/accounts/{tenant.account_id}/users/{uuid.uuid4()}"
    for body in (
        {"email": "not-an-email", "name": "X", "role": "engineer", "active": True},
        {"email": "a@b.c", "name": "X", "role": "superuser", "active": True},
        {"email": "a@b.c", "name": "", "role": "engineer", "active": True},
        {"name": "X", "role": "engineer"},
    ):
        response = await tenant.service.request("PUT", path, json=body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "validation_error"
