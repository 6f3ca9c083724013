"""Accounts and users made through the directory API, with tokens to act as them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt


def mint_token(
    secret: str,
    user_id: uuid.UUID,
    account_id: uuid.UUID | None,
    role: str,
    name: str,
    *,
    ttl: timedelta = timedelta(hours=1),
    skew: timedelta = timedelta(0),
    email: str | None = None,
) -> str:
    """A token as the main application mints it: plain PyJWT, the contract's claims only, no `iat`.

    `skew` is how far the minting host's clock is ahead of ours.
    """
    exp = datetime.now(UTC) + skew + ttl
    claims: dict[str, Any] = {"sub": str(user_id), "role": role, "name": name, "exp": int(exp.timestamp())}
    if account_id is not None:
        claims["account_id"] = str(account_id)
    if email is not None:
        claims["email"] = email
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass
class Actor:
    """A user with a token, and a client that sends it."""

    id: uuid.UUID
    account_id: uuid.UUID | None
    role: str
    name: str
    token: str
    http: httpx.AsyncClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def new_session(self, title: str = "Printer offline at reception", **body: Any) -> dict[str, Any]:
        response = await self.post("/api/v1/ai-sessions", json={"title": title, **body})
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def escalate(self, session_id: str, **body: Any) -> dict[str, Any]:
        payload = {"intent": "escalate", "note": "stuck", **body}
        response = await self.post(f"/api/v1/ai-sessions/{session_id}/handoff", json=payload)
        assert response.status_code == 201, response.text
        return dict(response.json())


@dataclass
class Tenant:
    account_id: uuid.UUID
    service: Actor
    users: dict[str, Actor] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Actor:
        return self.users[name]


class TenantFactory:
    """Makes a fresh account per test, so tests never see each other's rows."""

    def __init__(self, http: httpx.AsyncClient, secret: str) -> None:
        self.http = http
        self.secret = secret

    def actor(
        self,
        user_id: uuid.UUID,
        account_id: uuid.UUID | None,
        role: str,
        name: str,
        *,
        ttl: timedelta = timedelta(hours=1),
        skew: timedelta = timedelta(0),
    ) -> Actor:
        token = mint_token(self.secret, user_id, account_id, role, name, ttl=ttl, skew=skew)
        return Actor(user_id, account_id, role, name, token, self.http)

    def service(self) -> Actor:
        return self.actor(uuid.uuid4(), None, "service", "main application")

    async def add_user(self, tenant: Tenant, key: str, role: str, *, active: bool = True) -> Actor:
        user_id = uuid.uuid4()
        name = f"{key.title()} {str(user_id)[:4]}"
        body = {"email": f"{key}-{str(user_id)[:8]}@msp.test", "name": name, "role": role, "active": active}
        response = await tenant.service.request(
            "PUT", f"/api/v1/accounts/{tenant.account_id}/users/{user_id}", json=body
        )
        assert response.status_code == 200, response.text
        actor = self.actor(user_id, tenant.account_id, role, name)
        tenant.users[key] = actor
        return actor

    async def create(self, **roles: str) -> Tenant:
        """A new account with one directory user per keyword, e.g. `create(junior="engineer")`."""
        tenant = Tenant(uuid.uuid4(), self.service())
        for key, role in (roles or {"junior": "engineer", "senior": "engineer", "viewer": "viewer"}).items():
            await self.add_user(tenant, key, role)
        return tenant

    def expired(self, actor: Actor) -> Actor:
        """The actor's token, expired past the service's 60 s of leeway."""
        return self.actor(actor.id, actor.account_id, actor.role, actor.name, ttl=timedelta(seconds=-120))
