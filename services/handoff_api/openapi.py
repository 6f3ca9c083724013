"""What the OpenAPI document says beyond the handlers' own signatures: the error responses, in one place.

Every operation lists the contract's error body (`ErrorBody`) under each status code it can answer.
`ERRORS` names them per operation id; an operation it does not name gets the codes any handler of its
method can answer. The SSE stream, a raw ASGI handler Litestar leaves out, is described here too.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    PathItem,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute

from services.handoff_api.auth import OPENAPI_SECURITY

STREAM_PATH = "/api/v1/ai-sessions/escalations/stream"


class Winner(msgspec.Struct):
    id: str
    name: str


class ErrorBody(msgspec.Struct, kw_only=True):
    """Every 4xx/5xx body: a status code, a snake_case code and a sentence; extra fields at the top level."""

    status_code: int
    code: str
    detail: str
    claimed_by: Winner | msgspec.UnsetType = msgspec.UNSET  # 409 handoff_already_claimed
    claimed_at: str | msgspec.UnsetType = msgspec.UNSET  # 409 handoff_already_claimed
    errors: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET  # 400 validation_error: each field
    field: str | msgspec.UnsetType = msgspec.UNSET  # 400: the one field at fault, e.g. `rotations[0].members[2]`
    retry_after_s: int | msgspec.UnsetType = msgspec.UNSET  # 429 rate_limited, with Retry-After
    failed: list[str] | msgspec.UnsetType = msgspec.UNSET  # 503 from /readyz: what is not ready


DESCRIPTIONS = {
    400: "`validation_error` naming the field (also `unsafe_target` for a PSA, webhook or chat address)",
    401: "`unauthorized`: no token, a bad or expired one, or a user the directory no longer lets in",
    403: "`forbidden`: the caller's role may not do this",
    404: "`not_found`: no such resource in the caller's account, or an id in the path that is not a UUID",
    409: "a conflict with the resource's state (the code says which)",
    413: "`payload_too_large`: the body is over 1 MiB",
    429: "`rate_limited`, with `Retry-After` and `retry_after_s`",
    503: "`unavailable`: a dependency cannot be reached; retry shortly",
}
CONFLICTS = {
    "putUser": '`user_in_other_account`: the user id lives in another account (send `"move": true`), or '
    "`last_owner`: the change would leave the account without an active owner",
    "deleteUser": "`last_owner`: the user is the account's last active owner",
    "addMessage": "`session_not_active`, or `session_message_limit` at 2,000 messages",
    "createHandoff": "`session_not_active`: the session is parked or escalated already",
    "claimHandoff": "`handoff_already_claimed` with `claimed_by` and `claimed_at` of the winner, or "
    "`handoff_not_claimable` (withdrawn, or a park claimed by its own engineer)",
    "resumeHandoff": "`handoff_action_not_allowed`: not an open park of the caller's",
    "withdrawHandoff": "`handoff_already_claimed` naming the winner, or `handoff_action_not_allowed`",
}
FORBIDDEN = {"claimHandoff": "`forbidden` for a viewer, `cannot_claim_own_handoff` for the escalator"}

READ = (400, 401, 403, 404)
WRITE = (400, 401, 403, 404, 409, 413, 429)
# 400 everywhere: any parameter or header may be malformed, and it must never be Litestar's own 400 body.
ERRORS: dict[str, tuple[int, ...]] = {
    "listUsers": (400, 401, 404),
    "putUser": (400, 401, 403, 404, 409, 413, 429),
    "deleteUser": (400, 401, 403, 404, 409, 429),
    "createSession": (400, 401, 403, 413, 429),
    "listMySessions": (400, 401, 403),
    "getSession": (400, 401, 403, 404),
    "addMessage": (400, 401, 403, 404, 409, 413, 429),
    "listEscalations": (400, 401, 403),
    "createHandoff": (400, 401, 403, 404, 409, 413, 429),
    "getHandoff": (400, 401, 403, 404),
    "claimHandoff": (400, 401, 403, 404, 409, 429),
    "resumeHandoff": (400, 401, 403, 404, 409, 429),
    "withdrawHandoff": (400, 401, 403, 404, 409, 429),
    "listDeliveries": (400, 401, 403, 404),
    "putPSAConnection": (400, 401, 403, 404, 413, 429),
    "getPSAConnection": (400, 401, 403, 404),
    "putOutboundAllow": (400, 401, 403, 413, 429),
    "getOutboundAllow": (400, 401, 403, 404),
    "getChatDestinations": (400, 401, 403, 404),
    "putChatDestinations": (400, 401, 403, 404, 413, 429),
    "postChatTest": (400, 401, 403, 404, 413, 429),
    "getOnCall": (400, 401, 403, 404),
    "putOnCall": (400, 401, 403, 404, 413, 429),
    "getOnCallNow": (400, 401, 403, 404),
    "getOnCallShifts": (400, 401, 403, 404),
}


def error_responses(operation_id: str, method: str, *, path_ids: bool = False) -> dict[int, ResponseSpec]:
    """The ErrorBody responses of one operation; with ids in its path, a 404 whatever else it answers."""
    codes = ERRORS.get(operation_id) or (READ if method in {"GET", "HEAD"} else WRITE)
    if path_ids and 404 not in codes:  # the router's 404 for an id that is not a UUID
        codes = tuple(sorted({*codes, 404}))
    described = {**DESCRIPTIONS, 409: CONFLICTS.get(operation_id, DESCRIPTIONS[409])}
    if operation_id in FORBIDDEN:
        described[403] = FORBIDDEN[operation_id]
    return {
        code: ResponseSpec(data_container=ErrorBody, description=described[code], generate_examples=False)
        for code in codes
    }


def _stream_operation() -> Operation:
    error = OpenAPIMediaType(schema=Reference(ref="#/components/schemas/ErrorBody"))
    frames = (
        "`event: ready` with `{account_id, last_event_id}`, then, after a `Last-Event-ID`, every later event "
        "(or `event: resync`), then live events: `id: <stream id>`, `event: <type>`, `data: <one-line JSON>`; "
        "`: ping` comments while idle."
    )
    return Operation(
        operation_id="streamEscalations",
        tags=["handoffs"],
        summary="Live escalation events of the caller's account (Server-Sent Events)",
        security=OPENAPI_SECURITY,
        parameters=[
            Parameter(
                name="Last-Event-ID",
                param_in="header",
                required=False,
                description="The last stream id the client saw, to resume after it on any replica",
                schema=Schema(type=OpenAPIType.STRING),
            )
        ],
        responses={
            "200": OpenAPIResponse(
                description=frames,
                content={"text/event-stream": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
                headers={"Cache-Control": OpenAPIHeader(schema=Schema(type=OpenAPIType.STRING))},
            ),
            **{
                str(code): OpenAPIResponse(description=DESCRIPTIONS[code], content={"application/json": error})
                for code in (401, 403, 429, 503)
            },
        },
    )


def describe_api(app: Litestar) -> None:
    """Put the error responses on every documented handler and the stream into the document."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if isinstance(handler, HTTPRouteHandler) and handler.resolve_include_in_schema():
                method = sorted(handler.http_methods)[0]
                errors = error_responses(str(handler.operation_id), method, path_ids=bool(route.path_parameters))
                handler.responses = {**errors, **(handler.responses or {})}
    openapi = app.openapi_schema
    openapi.paths = {**(openapi.paths or {}), STREAM_PATH: PathItem(get=_stream_operation())}
