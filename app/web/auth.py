"""Who is asking and what they may do.

Litestar's authentication middleware resolves the caller once per request: `request.user` is their
Identity (None when anonymous) and `request.auth` the Credentials they sent. Each route declares the
role it needs as `opt={"role": Role.X}` (on the handler, its controller or router: the innermost
wins), checked after routing by `access_middleware` with the CSRF token of browser forms. Roles are
not guards: Litestar copies the route handler for each guard it runs, per request, and on the API's
hot path that copy cost more than the check."""

from __future__ import annotations

import hmac
from typing import Any, Literal

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import DefineMiddleware
from litestar.middleware.authentication import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Receive, Scope, Send

from app.display import NOUNS
from app.domain.access import Role, at_own_location
from app.domain.commands import TransactionInput
from app.domain.immutable import immutable
from app.services.accounts import AccountService, Identity
from app.services.ledger import LedgerService
from app.web.raw_headers import first_header

SESSION_COOKIE = "stockroom_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@immutable
class Credentials:
    """What a request identified itself with (its `request.auth`): a bearer token, a session cookie or
    neither. A caller without a valid one is also told whether any user exists yet (`first_run`: a
    browser is sent to /setup, not /login, and an API client is told how to make the first user)."""

    sent: Literal["token", "session"] | None
    first_run: bool = False


VALID = {"token": Credentials("token"), "session": Credentials("session")}

# The request of a route that declares a role: `request.user` is the caller (pages: HTMXRequest).
SignedInRequest = Request[Identity, Credentials, Any]


class Authentication(AbstractAuthenticationMiddleware):
    """A bearer token (API clients) or else the session cookie (browsers), looked up in the accounts'
    cache (a token for up to 5 s) or the database. Never refuses: a route's role decides that.
    Public routes skip it (`exclude_from_auth=True`: static files, health, readiness, the favicon), so
    that a page view does not cost a session look-up for each file it loads."""

    def __init__(self, app: ASGIApp, accounts: AccountService, **options: Any) -> None:
        super().__init__(app, **options)
        self.accounts = accounts

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        sent, secret = secret_sent(connection)
        identity: Identity | None = None
        if sent == "token":
            identity = await self.accounts.token_identity(secret)
        elif sent == "session":
            identity = await self.accounts.session_identity(secret)
        if identity is not None:
            return AuthenticationResult(identity, VALID[identity.via])
        return AuthenticationResult(None, Credentials(sent, first_run=not await self.accounts.users_exist()))


def secret_sent(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[Literal["token", "session"] | None, str]:
    """The API token of an `Authorization: Bearer` header, or else the session cookie's id ("" for none)."""
    header = first_header(connection.scope, b"authorization") or ""
    if header[:7].lower() == "bearer ":
        return "token", header[7:].strip()
    if (cookie := connection.cookies.get(SESSION_COOKIE)) is not None:
        return "session", cookie
    return None, ""


def authentication(accounts: AccountService) -> DefineMiddleware:
    """The middleware on these accounts, for HTTP requests, OPTIONS included (Litestar leaves those out
    by default), and not for public routes."""
    return DefineMiddleware(Authentication, accounts=accounts, exclude_http_methods=[], scopes={ScopeType.HTTP})


def access_middleware(app: ASGIApp) -> ASGIApp:
    """The role a route needs and the CSRF token of every state-changing browser request, checked once
    per request, after routing (so that a bad path or query parameter is a 400 whoever asks)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] == "http" and handler is not None:
            role = handler.opt.get("role")
            if role is not None:
                check_role(scope, role)
            if scope.get("method") not in SAFE_METHODS and not handler.opt.get("starts_session"):
                identity: Identity | None = scope.get("user")
                if identity is not None and identity.via == "session":  # a token sends no cookie: no CSRF
                    await _check_csrf(identity, Request(scope, receive))
        await app(scope, receive, send)

    return middleware


def check_role(scope: Scope, role: Role) -> Identity:
    """401 without valid credentials, 403 below `role`; the caller's identity otherwise."""
    identity: Identity | None = scope.get("user")
    if identity is None:
        raise NotAuthorizedException("Invalid API token" if rejected_token(scope) else "Log in, or send an API token")
    if identity.role < role:
        raise PermissionDeniedException(f"This needs the {role.label} role; you are {identity.role.label}")
    return identity


def rejected_token(scope: Scope) -> bool:
    """The caller sent an API token that matches no active one."""
    credentials: Credentials | None = scope.get("auth")
    return scope.get("user") is None and credentials is not None and credentials.sent == "token"


def first_run(scope: Scope) -> bool:
    """No user exists yet (known for callers without valid credentials)."""
    credentials: Credentials | None = scope.get("auth")
    return credentials is not None and credentials.first_run


async def _check_csrf(identity: Identity, request: Request[Any, Any, Any]) -> None:
    """Every state-changing browser request carries its session's CSRF token (header or form field).
    Requests with a bearer token carry no cookie, so they need none (and no Request is made for them:
    a sale pays nothing here); logging in starts a new session. A form read here is kept in the
    request's scope, so the handler does not read the body again."""
    sent = request.headers.get("x-csrf-token")
    if not sent and "form" in request.headers.get("content-type", ""):
        sent = (await request.form()).get("csrf_token")
    if not sent or not identity.csrf or not hmac.compare_digest(str(sent), identity.csrf):
        raise PermissionDeniedException(
            "The form's CSRF token is missing or belongs to another session; reload the page"
        )


def allow(identity: Identity, needed: Role, why: str) -> None:
    if identity.role < needed:
        raise PermissionDeniedException(f"{why} needs the {needed.label} role; you are {identity.role.label}")


def allow_recording(identity: Identity, ledger: LedgerService, data: TransactionInput) -> None:
    """A clerk records BUY and SELL dated today; other types and dates need a manager. A user limited
    to one location names no other (LocationRefused, a 403; checked here so that every transport
    refuses it as it refuses a role, before any key is kept). The ledger, handed `within=`, puts
    their transaction at their location when it names none, and checks again."""
    needed = ledger.role_to_record(data)
    if identity.role < needed:  # the refusal's words are made only for a refusal (not on every sale)
        shown = ledger.display
        if data.at is not None:
            what = shown.transaction(data.type.value, data.quantity, data.at, new=True)
        else:
            what = f"a new {NOUNS.get(data.type.value, data.type.value.lower())} of {shown.units(data.quantity)}"
        allow(identity, needed, f"Recording {what}")
    at_own_location(data, identity.location)


def scope_of(identity: Identity) -> str:
    """Idempotency keys are kept per user or per token holder."""
    return f"{identity.via}:{identity.username}"
