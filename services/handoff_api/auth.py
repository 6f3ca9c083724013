"""Authentication (Litestar's JWT auth backed by the user directory) and role guards."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTAuth, Token

from shared.auth.principal import Principal
from shared.auth.tokens import ALGORITHM
from shared.directory.service import principal_from_claims

PUBLIC_PATHS = ["^/healthz$", "^/readyz$", "^/metrics", "^/schema", "^/$", "^/dashboard", "^/favicon", "^/dev/"]


async def retrieve_principal(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """Look the token's user up in the directory; None (a 401) for inactive or deleted users."""
    claims = {**token.extras, "sub": token.sub}
    async with connection.app.state.sessionmaker() as db:
        return await principal_from_claims(db, claims)


def build_jwt_auth(secret: str) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        token_secret=secret,
        algorithm=ALGORITHM,
        retrieve_user_handler=retrieve_principal,
        exclude=PUBLIC_PATHS,
    )


def _principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.user
    assert isinstance(user, Principal)
    return user


def member_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A user of an account (any role but `service`)."""
    if _principal(connection).account_id is None:
        raise PermissionDeniedException("this call needs a user of an account")


def senior_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """An engineer, admin or owner of an account."""
    principal = _principal(connection)
    if principal.account_id is None or not principal.is_senior:
        raise PermissionDeniedException("only engineers, admins and owners may do this")


def account_admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The main application (`service`), or an owner or admin."""
    principal = _principal(connection)
    if not (principal.is_service or principal.is_account_admin):
        raise PermissionDeniedException("only the main application or an owner or admin may do this")
