"""The one place where errors become the contract's error body and status code.

A 5xx never carries its cause; the edge logs it, traceback and request id included (`note_server_error`).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from services.handoff_api.edge import note_server_error
from services.handoff_api.error_body import SERVER_FAILED, error_body
from shared.clock import rfc3339
from shared.db.outage import is_database_outage
from shared.errors import (
    CannotClaimOwnHandoff,
    DomainError,
    Forbidden,
    HandoffActionNotAllowed,
    HandoffAlreadyClaimed,
    HandoffNotClaimable,
    InvalidField,
    InvalidInput,
    LastOwner,
    NotFound,
    RateLimited,
    SessionMessageLimit,
    SessionNotActive,
    UnsafeTarget,
    UserInOtherAccount,
)

DATABASE_UNAVAILABLE = "the database cannot be reached; retry shortly"
DATABASE_RETRY_AFTER_S = 2

DOMAIN_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Forbidden: 403,
    InvalidInput: 400,
    SessionNotActive: 409,
    SessionMessageLimit: 409,
    HandoffAlreadyClaimed: 409,
    HandoffNotClaimable: 409,
    CannotClaimOwnHandoff: 403,
    HandoffActionNotAllowed: 409,
    UserInOtherAccount: 409,
    LastOwner: 409,
    RateLimited: 429,
    UnsafeTarget: 400,
}

HTTP_CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def error_response(status_code: int, code: str, detail: str, **extra: Any) -> Response[dict[str, Any]]:
    """The contract's error answer from a handler or an exception handler."""
    return Response(error_body(status_code, code, detail, **extra), status_code=status_code)


def domain_error_handler(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
    extra: dict[str, Any] = {}
    if isinstance(exc, HandoffAlreadyClaimed):
        extra = {
            "claimed_by": {"id": str(exc.winner_id), "name": exc.winner_name},
            "claimed_at": rfc3339(exc.claimed_at),
        }
    if isinstance(exc, RateLimited):
        response = error_response(status, exc.code, exc.detail, retry_after_s=exc.retry_after_s)
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    if isinstance(exc, UnsafeTarget | InvalidField):
        extra = {"field": exc.field}
    return error_response(status, exc.code, exc.detail, **extra)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if status >= 500:
        note_server_error(request.scope, exc)
        return error_response(status, HTTP_CODES.get(status, "internal_error"), SERVER_FAILED)
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and exc.extra:
        extra["errors"] = exc.extra
        # The first field of the body at fault, as the domain's own refusals name theirs (`field`).
        body_keys = [e["key"] for e in exc.extra if isinstance(e, dict) and e.get("source") == "body" and e.get("key")]
        if body_keys:
            extra["field"] = body_keys[0]
    headers = exc.headers or {}
    response = error_response(status, HTTP_CODES.get(status, "http_error"), str(exc.detail), **extra)
    response.headers.update(headers)
    return response


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    note_server_error(request.scope, exc)
    if is_database_outage(exc):  # not the request's fault, nor ours: the same request may well succeed shortly
        response = error_response(503, "unavailable", DATABASE_UNAVAILABLE)
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", SERVER_FAILED)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
