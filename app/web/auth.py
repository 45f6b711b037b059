"""Who is asking: a bearer token or a session cookie, resolved once per request; role guards; CSRF."""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect, Template
from litestar.types import ASGIApp, Receive, Scope, Send

from app.display import NOUNS, shop_display
from app.domain.access import Role
from app.domain.inputs import TransactionInput
from app.services import accounts
from app.services.accounts import Identity, RateLimited
from app.services.ledger import LedgerService

SESSION_COOKIE = "stockroom_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC_PREFIXES = ("/static/", "/healthz", "/readyz", "/favicon.ico")


def identity_middleware(app: ASGIApp) -> ASGIApp:
    """Puts the caller's Identity (or None) in `scope["identity"]`; a bad token is remembered as such."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        # Static files and the health check are public: a page view must not cost a session lookup each.
        if scope["type"] == "http" and not scope["path"].startswith(PUBLIC_PREFIXES):
            scope["identity"], scope["bad_token"] = await _resolve(scope)  # type: ignore[typeddict-unknown-key]
            scope["users_exist"] = await accounts.users_exist()  # type: ignore[typeddict-unknown-key]
        await app(scope, receive, send)

    return middleware


async def _resolve(scope: Scope) -> tuple[Identity | None, bool]:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        found = await accounts.token_identity(auth[7:].strip())
        return found, found is None
    cookie = SimpleCookie(headers.get("cookie", ""))
    if SESSION_COOKIE in cookie:
        return await accounts.session_identity(cookie[SESSION_COOKIE].value), False
    return None, False


def identity_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity | None:
    found: Identity | None = connection.scope.get("identity")  # type: ignore[assignment]
    return found


def requires(role: Role) -> Any:
    """A guard: 401 without valid credentials, 403 below `role`. Pages use it; the API declares
    `opt={"role": ...}` instead, checked by `access_middleware` without a per-request copy."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        check_role(connection.scope, role)

    guard.__name__ = f"requires_{role.label}"
    return guard


def signed_in(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """The caller of a guarded handler (the guard has already refused anonymous callers)."""
    identity = identity_of(connection)
    assert identity is not None, "only for handlers behind requires()"
    return identity


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who the audit log names for a change."""
    return signed_in(connection).username


def allow(identity: Identity, needed: Role, why: str) -> None:
    if identity.role < needed:
        raise PermissionDeniedException(f"{why} needs the {needed.label} role; you are {identity.role.label}")


def allow_recording(identity: Identity, ledger: LedgerService, data: TransactionInput) -> None:
    """A clerk records BUY and SELL dated today; other types and dates need a manager."""
    shown = shop_display()
    if data.at is not None:
        what = shown.transaction(data.type.value, data.quantity, data.at, new=True)
    else:
        what = f"a new {NOUNS.get(data.type.value, data.type.value.lower())} of {shown.units(data.quantity)}"
    allow(identity, ledger.role_to_record(data), f"Recording {what}")


def access_middleware(app: ASGIApp) -> ASGIApp:
    """The role a route needs (`opt={"role": Role.X}` on the handler, its controller or router: the
    innermost wins) and the CSRF token of every state-changing browser request, checked once per
    request here. Litestar copies the route handler for each guard it runs; on the API's hot path
    that copy cost more than the check, so the API declares its roles as `opt`, not as guards."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] == "http" and handler is not None:
            role = handler.opt.get("role")
            if role is not None:
                check_role(scope, role)
            if scope.get("method") not in SAFE_METHODS and not handler.opt.get("starts_session"):
                await _check_csrf(Request(scope, receive))
        await app(scope, receive, send)

    return middleware


def check_role(scope: Scope, role: Role) -> Identity:
    """401 without valid credentials, 403 below `role`; the caller's identity otherwise."""
    identity: Identity | None = scope.get("identity")  # type: ignore[assignment]
    if identity is None:
        bad = scope.get("bad_token")
        raise NotAuthorizedException("Invalid API token" if bad else "Log in, or send an API token")
    if identity.role < role:
        raise PermissionDeniedException(f"This needs the {role.label} role; you are {identity.role.label}")
    return identity


async def _check_csrf(request: Request[Any, Any, Any]) -> None:
    """Every state-changing browser request carries its session's CSRF token (header or form field).
    Requests with a bearer token carry no cookie, so they need none; logging in starts a new session.
    A form read here is kept in the request's scope, so the handler does not read the body again."""
    identity = identity_of(request)
    if identity is None or identity.via != "session":
        return
    sent = request.headers.get("x-csrf-token")
    if not sent and "form" in request.headers.get("content-type", ""):
        sent = (await request.form()).get("csrf_token")
    if not sent or not identity.csrf or not hmac.compare_digest(str(sent), identity.csrf):
        raise PermissionDeniedException(
            "The form's CSRF token is missing or belongs to another session; reload the page"
        )


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    path = request.url.path
    return not path.startswith(("/api", "/events")) and "text/html" in request.headers.get("accept", "")


def not_authorized(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Browsers go to the login page (or, before any user exists, to the first-run page)."""
    browser = _wants_html(request) or request.headers.get("hx-request") == "true"
    if browser and not request.scope.get("bad_token"):
        first_run = not request.scope.get("users_exist", True)
        target = "/setup" if first_run else f"/login?next={quote(request.url.path)}"
        if request.headers.get("hx-request") == "true":
            return Response(None, status_code=401, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
    detail = getattr(exc, "detail", "Not authorized")
    hint, extra = _how_to_authenticate(first_run=not request.scope.get("users_exist", True))
    return Response({"status_code": 401, "detail": f"{detail}. {hint}", "extra": extra}, status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="stockroom"'})  # fmt: skip


def _how_to_authenticate(first_run: bool) -> tuple[str, dict[str, str]]:
    """What a client without a session or a valid token is told (`curl /` explains itself)."""
    extra = {"header": "Authorization: Bearer <token>", "make_a_token": "inventory token create USERNAME",
             "login": "/login"}  # fmt: skip
    if first_run:
        return ("No user exists yet: open /setup in a browser to create the first administrator (or run "
                "`inventory user create USERNAME --role admin`), then make an API token with "
                "`inventory token create USERNAME`", {**extra, "setup": "/setup"})  # fmt: skip
    return ("Browsers log in at /login; API clients send the header 'Authorization: Bearer <token>' with a token "
            "an administrator makes on /admin or with `inventory token create USERNAME`", extra)  # fmt: skip


def permission_denied(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    detail = getattr(exc, "detail", "Forbidden")
    if _wants_html(request):
        return Template(template_name="error.html", context={"status": 403, "detail": detail}, status_code=403)
    return Response({"status_code": 403, "detail": detail, "extra": {}}, status_code=403)


def rate_limited(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, RateLimited)
    headers = {"Retry-After": str(exc.retry_after)}
    if _wants_html(request):
        return Template(template_name="login.html", context={"error": exc.detail, "next": "/"}, status_code=429,
                        headers=headers)  # fmt: skip
    return Response({"status_code": 429, "detail": exc.detail, "extra": exc.extra}, status_code=429, headers=headers)


def scope_of(identity: Identity) -> str:
    """Idempotency keys are kept per user or per token holder."""
    return f"{identity.via}:{identity.username}"
