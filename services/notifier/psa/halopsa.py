"""HaloPSA: a private note action on a ticket, posted once, with a cached client-credentials token."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import httpx

from services.notifier.channels.http import endpoint, external_id, json_of, log, posted_body, send
from services.notifier.psa.base import PSAConnection, PSAError, PSANote, PSAResult, marker, note_text, ticket_number

OUTCOME = "Private Note"
REFRESH_MARGIN = 60.0  # seconds before expiry that a cached token stops being used


def token_url(auth_url: str) -> str:
    """The token endpoint, given either it or the authorisation server Halo shows (".../auth")."""
    base = auth_url.rstrip("/")
    return base if base.endswith("/token") else f"{base}/token"


class HaloPSAAdapter:
    """Posts to /api/Actions with a Bearer token from the client-credentials grant, cached per connection."""

    provider = "halopsa"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}  # connection fingerprint -> (token, use until)

    async def post_note(self, http: httpx.AsyncClient, connection: PSAConnection, note: PSANote) -> PSAResult:
        """Post `note` as a private action hidden from the end user, unless one with its marker is there already."""
        ticket = ticket_number(self.provider, note.ticket_ref)
        url = endpoint(connection.base_url, "api/Actions")
        tag = marker(note.idempotency_key)

        found = await self._call(http, connection, "GET", url, action="actions lookup", params={"ticket_id": ticket})
        for existing in _actions(json_of(found, provider=self.provider, action="actions lookup")):
            if any(tag in str(existing.get(field) or "") for field in ("note", "note_html")):
                log.info("halopsa: ticket %d already has the note for %s", ticket, note.idempotency_key)
                return PSAResult(external_id=external_id(existing), already_posted=True)

        action = {
            "ticket_id": ticket,
            "note": note_text(note),
            "outcome": OUTCOME,
            "hiddenfromuser": True,
            "sendemail": False,
        }
        created = await self._call(http, connection, "POST", url, action="action post", json=[action])
        answer = posted_body(created)
        log.info("halopsa: posted the note for %s on ticket %d", note.idempotency_key, ticket)
        return PSAResult(external_id=external_id(answer[0] if isinstance(answer, list) and answer else answer))

    async def _call(
        self, http: httpx.AsyncClient, connection: PSAConnection, method: str, url: str, *, action: str, **kwargs: Any
    ) -> httpx.Response:
        token, cached = await self._token(http, connection)
        # A cached token can be revoked before it expires: on its 401, fetch a new one and try once more.
        response = await self._send(http, method, url, token, action=action, allow_401=cached, **kwargs)
        if response.status_code == 401:
            self._tokens.pop(_fingerprint(connection), None)
            token, _ = await self._token(http, connection)
            response = await self._send(http, method, url, token, action=action, allow_401=False, **kwargs)
        return response

    async def _send(
        self, http: httpx.AsyncClient, method: str, url: str, token: str, *, action: str, allow_401: bool, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        allow = frozenset({401}) if allow_401 else frozenset()
        return await send(
            http, method, url, provider=self.provider, action=action, allow=allow, headers=headers, **kwargs
        )

    async def _token(self, http: httpx.AsyncClient, connection: PSAConnection) -> tuple[str, bool]:
        key = _fingerprint(connection)
        cached = self._tokens.get(key)
        if cached is not None and self._clock() < cached[1]:
            return cached[0], True
        # No lock: concurrent pushes at worst fetch a token each, and Halo allows several live tokens.
        form = {
            "grant_type": "client_credentials",
            "client_id": connection.credential("client_id"),
            "client_secret": connection.credential("client_secret"),
            "scope": "all",
        }
        tenant = connection.credentials.get("tenant")
        params = {"tenant": str(tenant)} if tenant else None
        url = token_url(connection.credential("auth_url"))
        response = await send(
            http, "POST", url, provider=self.provider, action="token request", data=form, params=params
        )
        body = json_of(response, provider=self.provider, action="token request")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PSAError("halopsa: token request answered no access_token", transient=True)
        lifetime = _lifetime(body.get("expires_in"))
        self._tokens[key] = (token, self._clock() + max(lifetime - REFRESH_MARGIN, lifetime / 2))
        return token, False


_TOKEN_FIELDS = ("auth_url", "client_id", "client_secret", "tenant")


def _fingerprint(connection: PSAConnection) -> str:
    # A digest, so the cache key holds no secret and a rotated secret gets a token of its own.
    parts = (connection.base_url, *(str(connection.credentials.get(name, "")) for name in _TOKEN_FIELDS))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _lifetime(expires_in: Any) -> float:
    try:
        return max(float(expires_in), 0.0)
    except (TypeError, ValueError):
        return 0.0  # unknown lifetime: use the token for this push only


def _actions(body: Any) -> list[dict[str, Any]]:
    items = body.get("actions") if isinstance(body, dict) else body
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
