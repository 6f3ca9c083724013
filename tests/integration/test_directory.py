"""Directory sync: the main application PUTs and DELETEs users; the directory gates sign-in."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from shared.bootstrap import Runtime
from shared.directory.tables import User
from tests.support.tenants import Actor, Tenant, TenantFactory


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


def user_body(actor: Actor, role: str, *, active: bool = True) -> dict[str, object]:
    return {"email": f"{str(actor.id)[:8]}@msp.test", "name": actor.name, "role": role, "active": active}


def user_path(tenant: Tenant, actor: Actor) -> str:
    return f"/api/v1/accounts/{tenant.account_id}/users/{actor.id}"


async def test_an_admin_can_neither_change_an_owner_nor_make_one(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner", lead="admin", junior="engineer")
    owner, lead, junior = tenant["owner"], tenant["lead"], tenant["junior"]

    for body in (user_body(owner, "admin"), user_body(owner, "owner", active=False), user_body(owner, "engineer")):
        refused = await lead.request("PUT", user_path(tenant, owner), json=body)
        assert refused.status_code == 403, body
        assert refused.json()["code"] == "forbidden"
    assert (await lead.request("DELETE", user_path(tenant, owner))).json()["code"] == "forbidden"
    for promoted in (lead, junior):  # not themselves, and no one else either
        refused = await lead.request("PUT", user_path(tenant, promoted), json=user_body(promoted, "owner"))
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"

    # The owner still is one, and acts as one: the admin's own row is theirs to change.
    demoted = await owner.request("PUT", user_path(tenant, lead), json=user_body(lead, "engineer"))
    assert demoted.status_code == 200
    assert demoted.json()["role"] == "engineer"
    # An admin still manages everyone below an owner.
    second = await tenants.add_user(tenant, "second", "admin")
    assert (await second.request("PUT", user_path(tenant, junior), json=user_body(junior, "viewer"))).status_code == 200


async def test_the_last_active_owner_stays_unless_the_main_application_says_otherwise(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner", partner="owner", junior="engineer")
    owner, partner = tenant["owner"], tenant["partner"]

    # With two owners, one may step down.
    stepped_down = await partner.request("PUT", user_path(tenant, partner), json=user_body(partner, "admin"))
    assert stepped_down.status_code == 200
    partner = tenants.actor(partner.id, tenant.account_id, "admin", partner.name)

    for method, body in (
        ("PUT", user_body(owner, "admin")),
        ("PUT", user_body(owner, "viewer")),
        ("PUT", user_body(owner, "owner", active=False)),
        ("DELETE", None),
    ):
        refused = await owner.request(method, user_path(tenant, owner), json=body)
        assert refused.status_code == 409, (method, body)
        assert refused.json() == {
            "status_code": 409,
            "code": "last_owner",
            "detail": "this is the account's last active owner; make another user an owner first",
        }
    # Editing the last owner in ways that keep them an active owner is fine.
    renamed = {**user_body(owner, "owner"), "name": "Owner Renamed"}
    assert (await owner.request("PUT", user_path(tenant, owner), json=renamed)).status_code == 200

    # An inactive owner does not count as the account's owner.
    ghost = await tenants.add_user(tenant, "ghost", "owner", active=False)
    assert ghost.role == "owner"
    assert (await owner.request("DELETE", user_path(tenant, owner))).json()["code"] == "last_owner"

    # The main application may do what it must: it is the source of the directory.
    demoted = await tenant.service.request("PUT", user_path(tenant, owner), json=user_body(owner, "admin"))
    assert demoted.status_code == 200
    assert demoted.json()["role"] == "admin"


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(tenants: TenantFactory, runtime: Runtime) -> None:
    pairs = [await tenants.create(first="owner", second="owner") for _ in range(4)]

    async def demote(tenant: Tenant, actor: Actor, target: Actor) -> int:
        response = await actor.request("PUT", user_path(tenant, target), json=user_body(target, "engineer"))
        return response.status_code

    outcomes = await asyncio.gather(
        *(
            asyncio.gather(
                demote(tenant, tenant["first"], tenant["second"]), demote(tenant, tenant["second"], tenant["first"])
            )
            for tenant in pairs
        )
    )
    for outcome in outcomes:
        # One wins; the other finds themselves demoted (403) or their partner the last owner (409).
        assert sorted(outcome)[0] == 200
        assert sorted(outcome)[1] in (403, 409)
    async with runtime.sessionmaker() as db:
        for tenant in pairs:
            owners = await db.scalars(
                select(User.id).where(User.account_id == tenant.account_id, User.role == "owner", User.active)
            )
            assert len(owners.all()) == 1


# --- listing an account's users ---------------------------------------------------------------------


async def put_member(
    tenant: Tenant, name: str, role: str, *, user_id: uuid.UUID | None = None, active: bool = True
) -> str:
    """A directory user with a name of the test's choosing; its id."""
    user_id = user_id or uuid.uuid4()
    body = {"email": f"{name.lower()}-{str(user_id)[:8]}@msp.test", "name": name, "role": role, "active": active}
    response = await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/users/{user_id}", json=body)
    assert response.status_code == 200, response.text
    return str(user_id)


def users_path(tenant: Tenant) -> str:
    return f"/api/v1/accounts/{tenant.account_id}/users"


async def test_members_list_the_account_users_by_name_without_the_deleted(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner")
    ben = await put_member(tenant, "Ben", "admin")
    # Two of the same name follow their ids.
    cleos = sorted([await put_member(tenant, "Cleo", "engineer"), await put_member(tenant, "Cleo", "viewer")])
    ana = await put_member(tenant, "Ana", "engineer", active=False)
    gone = await put_member(tenant, "Aaron", "engineer")
    assert (await tenant.service.request("DELETE", f"{users_path(tenant)}/{gone}")).status_code == 200
    viewer = await tenants.add_user(tenant, "zed", "viewer")

    response = await viewer.get(users_path(tenant))

    assert response.status_code == 200
    items = response.json()["items"]
    owner = tenant["owner"]
    assert [item["id"] for item in items] == [ana, ben, *cleos, str(owner.id), str(viewer.id)]
    assert items[0] == {"id": ana, "name": "Ana", "role": "engineer", "active": False}
    assert items[1] == {"id": ben, "name": "Ben", "role": "admin", "active": True}
    assert all(set(item) == {"id", "name", "role", "active"} for item in items)


async def test_only_owners_admins_and_the_main_application_see_emails(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner", admin="admin", engineer="engineer", viewer="viewer")
    for caller, sees_emails in (
        (tenant.service, True),
        (tenant["owner"], True),
        (tenant["admin"], True),
        (tenant["engineer"], False),
        (tenant["viewer"], False),
    ):
        response = await caller.get(users_path(tenant))
        assert response.status_code == 200, caller.role
        items = response.json()["items"]
        assert {item["id"] for item in items} == {str(actor.id) for actor in tenant.users.values()}
        if sees_emails:
            assert all(item["email"].endswith("@msp.test") for item in items), caller.role
        else:
            assert all("email" not in item for item in items), caller.role


async def test_another_account_is_not_found_and_no_token_is_refused(tenants: TenantFactory) -> None:
    first = await tenants.create(owner="owner", viewer="viewer")
    second = await tenants.create(owner="owner")

    for caller in (first["owner"], first["viewer"]):
        foreign = await caller.get(users_path(second))
        assert foreign.status_code == 404
        assert foreign.json()["code"] == "not_found"
        assert str(second["owner"].id) not in foreign.text

    anonymous = await first["owner"].http.get(users_path(first))
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"


async def test_head_answers_like_get_without_a_body(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner")
    got = await tenant["owner"].get(users_path(tenant))
    head = await tenant["owner"].request("HEAD", users_path(tenant))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
