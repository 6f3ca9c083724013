"""Authentication (Bearer tokens checked against the user directory) and role guards."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme
from litestar.types import Receive, Scope, Send

from services.handoff_api.dependencies import api_context, release_request_session, request_session
from shared.auth.principal import Principal
from shared.auth.tokens import InvalidToken, verify_token
from shared.directory import who
from shared.directory.service import principal_from_claims
from shared.errors import RateLimited

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Paths served without a token: probes, the description, the dashboard's files, and the pick-up pages (whose link
# itself names its senior: API.md, "Pick up from an email").
PUBLIC_PATHS = [
    "^/healthz$",
    "^/readyz$",
    "^/metrics",
    "^/schema",
    "^/$",
    "^/sw\\.js$",
    "^/dashboard",
    "^/favicon",
    "^/dev/",
    "^/pick-up/",
]
SECURITY_SCHEME = "BearerToken"
OPENAPI_COMPONENTS = Components(
    security_schemes={
        SECURITY_SCHEME: SecurityScheme(
            type="http", scheme="Bearer", bearer_format="JWT", description="HS256 token from the main application"
        )
    }
)
OPENAPI_SECURITY: list[SecurityRequirement] = [{SECURITY_SCHEME: []}]


def bearer_token(header: str | None) -> str:
    """The token of an `Authorization: Bearer <jwt>` header; any other scheme is refused."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise NotAuthorizedException("send the token as Authorization: Bearer <token>")
    return token


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Verifies the token, then lets the directory decide who the caller is (or refuse them).

    The directory is read in the request's own database session, which the handler's unit of work
    then goes on with: one session and one pool checkout per request.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await release_request_session(scope)

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        token = bearer_token(connection.headers.get("authorization"))
        context = api_context(connection.app)
        try:
            claims = verify_token(context.settings.jwt_secret, token)
        except InvalidToken as exc:
            raise NotAuthorizedException("the token is invalid or has expired") from exc
        principal = await principal_from_claims(request_session(connection.scope, context), claims)
        if principal is None:
            raise NotAuthorizedException("the token does not name an active user")
        return AuthenticationResult(user=principal, auth=claims)


def bearer_auth_middleware() -> DefineMiddleware:
    return DefineMiddleware(BearerAuthMiddleware, exclude=PUBLIC_PATHS)


def _principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.user
    assert isinstance(user, Principal)
    return user


# The guards refuse early, with the same rules (and messages) the domain applies: shared.directory.who.
# Coroutines on purpose: Litestar runs a plain function guard in a worker thread, two thread hops per request.
async def member_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A user of an account (any role but `service`)."""
    who.require_member(_principal(connection))


async def senior_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """An engineer, admin or owner of an account."""
    who.require_senior(_principal(connection))


async def account_admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The main application (`service`), or an owner or admin."""
    who.require_account_manager(_principal(connection))


async def rate_limit_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Mutating calls of one user, summed over every replica, per minute; the main application is exempt."""
    if connection.scope.get("method") not in MUTATING_METHODS:
        return
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal) or principal.is_service:
        return
    context = api_context(connection.app)
    retry_after = await context.runtime.rate_limiter.hit(str(principal.user_id), context.settings.rate_limit_per_min)
    if retry_after is not None:
        raise RateLimited(retry_after)
