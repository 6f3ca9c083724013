"""Fake PSA vendors on real loopback sockets: a tiny HTTP/1.1 server and one handler per vendor's wire format.

Each fake checks what its vendor documents (path, method, authentication, body shape), answers 401 to bad
credentials, keeps the notes it stores, and serves the lookup its adapter's idempotency check uses.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.notifier.psa.base import PSAConnection


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON, or bytes sent as they are (`text/plain` unless `headers` name a Content-Type)
    headers: dict[str, str] | None = None


REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class FakeServer:
    """An HTTP/1.1 server on 127.0.0.1 (one request per connection) that hands each request to `handle`."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.fail_with: int | None = None  # answer every request with this status instead
        self.hang = False  # never answer, as a stuck vendor would
        self.redirect_to: str | None = None  # answer every request with a 307 to this URL instead
        self.tls: ssl.SSLContext | None = None  # serve https with this context
        self.host = "127.0.0.1"  # the host name its URLs carry (it always listens on 127.0.0.1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, ssl=self.tls)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            if self.hang:
                await asyncio.Event().wait()
            if self.redirect_to:
                reply = Reply(307, None, {"Location": self.redirect_to})
            elif self.fail_with:
                reply = Reply(self.fail_with, {"error": "injected", "banner": "upstream-body-text"})
            else:
                reply = await self.handle(request)
            writer.write(_encode(reply))
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    url = urlsplit(target)
    return Request(method, url.path, parse_qs(url.query), headers, body)


def _encode(reply: Reply) -> bytes:
    headers = dict(reply.headers or {})
    if isinstance(reply.body, bytes):
        body = reply.body
        content_type = headers.pop("Content-Type", "text/plain; charset=utf-8")
    else:
        body = b"" if reply.body is None else json.dumps(reply.body).encode()
        content_type = "application/json"
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    head = (
        f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    )
    return head.encode() + body


def _like(pattern: str, text: str) -> bool:
    """SQL Server LIKE, as the vendors run it: % and _ wildcards, [..] a character class."""
    regex = ""
    for token in re.findall(r"\[[^\]]*\]|.", pattern, flags=re.DOTALL):
        if token == "%":
            regex += ".*"
        elif token == "_":
            regex += "."
        elif token.startswith("[") and len(token) > 1:
            regex += "[" + re.escape(token[1:-1]) + "]"
        else:
            regex += re.escape(token)
    return re.fullmatch(regex, text, flags=re.DOTALL | re.IGNORECASE) is not None


class FakeConnectWise(FakeServer):
    """ConnectWise Manage: /service/tickets/{id}/notes, Basic company+public:private, the clientId header."""

    PREFIX = "/v4_6_release/apis/3.0"

    def __init__(self, tickets: set[int]) -> None:
        super().__init__()
        self.tickets = tickets
        self.credentials = {
            "company_id": "acme",
            "public_key": "pubKEY123",
            "private_key": "cw-private-" + secrets.token_hex(8),
            "client_id": "cw-client-" + secrets.token_hex(4),
        }
        self.notes: dict[int, list[dict[str, Any]]] = {}

    def connection(self, *, trailing_slash: bool = False, **override: str) -> PSAConnection:
        base = self.origin + self.PREFIX + ("/" if trailing_slash else "")
        return PSAConnection(provider="connectwise", base_url=base, credentials={**self.credentials, **override})

    def stored(self) -> list[dict[str, Any]]:
        return [note for notes in self.notes.values() for note in notes]

    async def handle(self, request: Request) -> Reply:
        user = f"{self.credentials['company_id']}+{self.credentials['public_key']}:{self.credentials['private_key']}"
        expected = "Basic " + base64.b64encode(user.encode()).decode()
        if (
            request.headers.get("authorization") != expected
            or request.headers.get("clientid") != (self.credentials["client_id"])
        ):
            return Reply(401, {"code": "Unauthorized", "message": "Authentication failed"})
        match = re.fullmatch(self.PREFIX + r"/service/tickets/(\d+)/notes", request.path)
        if match is None:
            return Reply(404, {"code": "NotFound"})
        ticket = int(match[1])
        if ticket not in self.tickets:
            return Reply(404, {"code": "NotFound", "message": f"Ticket {ticket} not found"})
        notes = self.notes.setdefault(ticket, [])
        if request.method == "GET":
            conditions = request.param("conditions")
            if conditions is None:
                return Reply(200, notes)
            like = re.fullmatch(r'text like "((?:[^"\\]|\\.)*)"', conditions)
            if like is None:
                return Reply(400, {"code": "InvalidObject", "message": "conditions not understood"})
            return Reply(200, [note for note in notes if _like(like[1], note["text"])])
        if request.method == "POST":
            body = request.json()
            flags = {"detailDescriptionFlag": False, "internalAnalysisFlag": True, "resolutionFlag": False}
            if not isinstance(body.get("text"), str) or not body["text"]:
                return Reply(400, {"code": "InvalidObject", "message": "text is required"})
            if any(body.get(name) is not value for name, value in flags.items()):
                return Reply(400, {"code": "InvalidObject", "message": "an internal analysis note is expected"})
            if body.get("processNotifications") is not False:
                return Reply(400, {"code": "InvalidObject", "message": "notifications must stay off"})
            note = {"id": 9000 + len(self.stored()), "ticketId": ticket, **body}
            notes.append(note)
            return Reply(201, note)
        return Reply(405, {"code": "MethodNotAllowed"})


class FakeAutotask(FakeServer):
    """Autotask REST: POST /V1.0/Tickets/{id}/Notes and POST /V1.0/TicketNotes/query, three auth headers."""

    PREFIX = "/ATServicesRest"

    def __init__(self, tickets: set[int]) -> None:
        super().__init__()
        self.tickets = tickets
        self.credentials = {
            "integration_code": "AT-INTEGRATION-" + secrets.token_hex(6).upper(),
            "username": "api-user@acme.example",
            "secret": "at-secret-" + secrets.token_hex(8),
        }
        self.notes: list[dict[str, Any]] = []

    def connection(self, *, trailing_slash: bool = False, **override: str) -> PSAConnection:
        base = self.origin + self.PREFIX + ("/" if trailing_slash else "")
        return PSAConnection(provider="autotask", base_url=base, credentials={**self.credentials, **override})

    def stored(self) -> list[dict[str, Any]]:
        return self.notes

    async def handle(self, request: Request) -> Reply:
        sent = {
            "integration_code": request.headers.get("apiintegrationcode"),
            "username": request.headers.get("username"),
            "secret": request.headers.get("secret"),
        }
        if sent != self.credentials:
            return Reply(401, None)
        if request.method != "POST" or not request.headers.get("content-type", "").startswith("application/json"):
            return Reply(405, {"errors": ["POST with a JSON body is expected"]})
        if request.path == self.PREFIX + "/V1.0/TicketNotes/query":
            filters = request.json().get("filter")
            if not isinstance(filters, list) or not filters:
                return Reply(500, {"errors": ["filter is required"]})
            items = [note for note in self.notes if all(_matches(item, note) for item in filters)]
            details = {"count": len(items), "requestCount": 500, "prevPageUrl": None, "nextPageUrl": None}
            return Reply(200, {"items": items, "pageDetails": details})
        match = re.fullmatch(self.PREFIX + r"/V1\.0/Tickets/(\d+)/Notes", request.path)
        if match is None:
            return Reply(404, None)
        ticket = int(match[1])
        if ticket not in self.tickets:
            return Reply(404, {"errors": [f"Ticket {ticket} not found"]})
        body = request.json()
        problems = [
            name
            for name, ok in {
                "ticketID": body.get("ticketID") == ticket,
                "title": isinstance(body.get("title"), str) and 0 < len(body["title"]) <= 250,
                "description": isinstance(body.get("description"), str) and len(body["description"]) <= 32000,
                "noteType": body.get("noteType") == 1,
                "publish": body.get("publish") == 2,
            }.items()
            if not ok
        ]
        if problems:
            return Reply(400, {"errors": [f"invalid {name}" for name in problems]})
        note = {"id": 700 + len(self.notes), **body}
        self.notes.append(note)
        return Reply(200, {"itemId": note["id"]})


def _matches(expression: dict[str, Any], item: dict[str, Any]) -> bool:
    op = expression.get("op")
    if op in ("and", "or"):
        results = [_matches(child, item) for child in expression.get("items", [])]
        return all(results) if op == "and" else any(results)
    value = item.get(expression.get("field", ""))
    if op == "eq":
        return bool(value == expression.get("value"))
    if op == "contains":
        return str(expression.get("value", "")).casefold() in str(value or "").casefold()
    raise ValueError(f"operator {op!r} is not faked")


class FakeHaloPSA(FakeServer):
    """HaloPSA: POST /auth/token (client credentials, ?tenant=), then /api/Actions with the Bearer token."""

    def __init__(self, tickets: set[int], *, tenant: str = "acme", expires_in: int = 3600) -> None:
        super().__init__()
        self.tickets = tickets
        self.tenant = tenant
        self.expires_in = expires_in
        self.credentials = {"client_id": "halo-client-" + secrets.token_hex(4), "client_secret": secrets.token_hex(16)}
        self.tokens: dict[str, float] = {}  # token -> expiry (unix seconds)
        self.issued: list[str] = []
        self.actions: list[dict[str, Any]] = []

    def connection(
        self, *, trailing_slash: bool = False, auth_path: str = "/auth/token", **override: str
    ) -> PSAConnection:
        credentials = {**self.credentials, "auth_url": self.origin + auth_path, "tenant": self.tenant, **override}
        base = self.origin + ("/" if trailing_slash else "")
        return PSAConnection(provider="halopsa", base_url=base, credentials=credentials)

    def stored(self) -> list[dict[str, Any]]:
        return self.actions

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    async def handle(self, request: Request) -> Reply:
        if request.path == "/auth/token":
            return self._token(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.tokens.get(token, 0) < time.time():
            return Reply(401, {"error": "invalid_token"})
        if request.path != "/api/Actions":
            return Reply(404, None)
        if request.method == "GET":
            ticket = int(request.param("ticket_id") or 0)
            actions = [action for action in self.actions if action["ticket_id"] == ticket]
            return Reply(200, {"record_count": len(actions), "actions": actions})
        if request.method != "POST":
            return Reply(405, None)
        body = request.json()
        if not (isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict)):
            return Reply(400, {"error": "a JSON array of actions is expected"})
        action = body[0]
        if action.get("ticket_id") not in self.tickets:
            return Reply(404, {"error": "ticket not found"})
        shape = {
            "note": isinstance(action.get("note"), str) and bool(action["note"]),
            "outcome": isinstance(action.get("outcome"), str) and bool(action["outcome"]),
            "hiddenfromuser": action.get("hiddenfromuser") is True,
            "sendemail": action.get("sendemail") is False,
        }
        if not all(shape.values()):
            return Reply(400, {"error": f"invalid {[name for name, ok in shape.items() if not ok]}"})
        stored = {"id": 500 + len(self.actions), **action}
        self.actions.append(stored)
        return Reply(201, stored)

    def _token(self, request: Request) -> Reply:
        form = {name: values[0] for name, values in parse_qs(request.body.decode()).items()}
        valid = (
            request.method == "POST"
            and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
            and request.param("tenant") == self.tenant
            and form.get("grant_type") == "client_credentials"
            and form.get("scope") == "all"
            and form.get("client_id") == self.credentials["client_id"]
            and form.get("client_secret") == self.credentials["client_secret"]
        )
        if not valid:
            return Reply(401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + self.expires_in
        self.issued.append(token)
        return Reply(200, {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in})


def standard_webhooks_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks reference check, written out from the specification (not from our sender)."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    # A "whsec_" secret's key is its base64-decoded rest; any other secret is used as its UTF-8 bytes.
    key = base64.b64decode(secret[len("whsec_") :]) if secret.startswith("whsec_") else secret.encode("utf-8")
    signed_content = f"{msg_id}.{timestamp}.{body.decode('utf-8')}"
    expected = base64.b64encode(hmac.new(key, signed_content.encode("utf-8"), hashlib.sha256).digest()).decode()
    for versioned in headers.get("webhook-signature", "").split(" "):
        version, _, sig = versioned.partition(",")
        if version == "v1" and hmac.compare_digest(expected, sig):
            return True
    return False


def handoff_signature_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Our own X-Handoff-Signature check: hex HMAC-SHA256 of "{timestamp}.{body}", any of the signatures."""
    message = headers.get("x-handoff-timestamp", "").encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, sig) for sig in headers.get("x-handoff-signature", "").split(" "))


class FakeWebhookReceiver(FakeServer):
    """A receiver that verifies both signatures (ours and Standard Webhooks') and dedupes by Idempotency-Key.

    `known_secrets` are the secrets the receiver holds (by default the one in `credentials`); any may verify.
    """

    def __init__(self, signing_secret: str | list[str] | None = None) -> None:
        super().__init__()
        secret: str | list[str] = signing_secret or "whsec-" + secrets.token_hex(16)
        self.credentials: dict[str, Any] = {"signing_secret": secret}
        self.known_secrets = secret if isinstance(secret, list) else [secret]
        self.events: dict[str, dict[str, Any]] = {}

    def connection(self, *, trailing_slash: bool = False, **override: Any) -> PSAConnection:
        credentials = {**self.credentials, **override}
        url = self.origin + "/hooks/handoff" + ("/" if trailing_slash else "")
        return PSAConnection(provider="webhook", base_url=url, credentials=credentials)

    def stored(self) -> list[dict[str, Any]]:
        return list(self.events.values())

    async def handle(self, request: Request) -> Reply:
        if request.method != "POST" or request.path.rstrip("/") != "/hooks/handoff":
            return Reply(404, None)
        headers, body = request.headers, request.body
        timestamp = headers.get("webhook-timestamp", "")
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        ours = any(handoff_signature_verify(secret, headers, body) for secret in self.known_secrets)
        standard = any(standard_webhooks_verify(secret, headers, body) for secret in self.known_secrets)
        if not (fresh and ours and standard and headers.get("x-handoff-timestamp") == timestamp):
            return Reply(401, {"error": "bad signature"})
        if request.headers.get("content-type") != "application/json":
            return Reply(415, None)
        key = request.headers.get("idempotency-key")
        if not key:
            return Reply(400, {"error": "Idempotency-Key is required"})
        if key in self.events:
            return Reply(409, {"error": "already received"})
        self.events[key] = request.json()
        return Reply(202, {"id": f"evt_{len(self.events)}"})
