from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlparse

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from app.domain.access import Role
from app.domain.errors import DomainError
from app.services import accounts, backup
from app.services.accounts import LoginRefused
from app.services.database import read_only
from app.web.auth import SESSION_COOKIE, requires
from app.web.pages.forms import form_data, page, problem, see_other


def _safe_next(raw: str | None) -> str:
    """Back to the page asked for — on this site only."""
    target = urlparse(raw or "/")
    return raw if raw and not target.scheme and not target.netloc and raw.startswith("/") else "/"


def _signed_in(token: str, target: str) -> Redirect:
    cookie = Cookie(key=SESSION_COOKIE, value=token, httponly=True, samesite="lax", path="/",
                    max_age=accounts.SESSION_DAYS * 86400)  # fmt: skip
    return Redirect(target, status_code=303, cookies=[cookie])


class LoginPages(Controller):
    include_in_schema = False

    @get("/login")
    async def form(self, next: str | None = None) -> Template | Redirect:
        if not await accounts.users_exist():
            return see_other("/setup")
        return page("login.html", next=_safe_next(next))

    @post("/login", opt={"starts_session": True})
    async def login(self, request: Request) -> Template | Redirect:
        form = await form_data(request)
        address = request.client.host if request.client else "unknown"
        try:
            who = await accounts.authenticate(form.get("username") or "", form.get("password") or "", address)
        except LoginRefused as refused:
            return page("login.html", 401, error=refused.detail, next=_safe_next(form.get("next")),
                        username=form.get("username") or "")  # fmt: skip
        token, _ = await accounts.open_session(who.user_id, replacing=request.cookies.get(SESSION_COOKIE))
        return _signed_in(token, _safe_next(form.get("next")))

    @post("/logout", guards=[requires(Role.VIEWER)])
    async def logout(self, request: Request) -> Redirect:
        if token := request.cookies.get(SESSION_COOKIE):
            await accounts.close_session(token)
        response = see_other("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @get("/setup")
    async def setup_form(self) -> Template:
        if await accounts.users_exist():
            raise NotFoundException("Setup is done; log in instead")
        return page("setup.html")

    @post("/setup", opt={"starts_session": True})
    async def setup(self, request: Request) -> Template | Redirect:
        form = await form_data(request)
        try:
            user_id = await accounts.create_user(form.get("username") or "", form.get("password") or "", Role.ADMIN,
                                                 first_admin=True)  # fmt: skip
        except DomainError as refused:
            if await accounts.users_exist():
                raise NotFoundException("Setup is done; log in instead") from None
            return page("setup.html", 400, error=problem(refused), username=form.get("username") or "")
        token, _ = await accounts.open_session(user_id)
        return _signed_in(token, "/")


class AdminPages(Controller):
    path = "/admin"
    guards = [requires(Role.ADMIN)]
    include_in_schema = False

    @get("/")
    async def index(self) -> Template:
        return await _admin_page()

    @post("/users")
    async def create_user(self, request: Request) -> Template | Redirect:
        form = await form_data(request)
        try:
            await accounts.create_user(form.get("username") or "", form.get("password") or "",
                                       Role.named(form.get("role") or "viewer"))  # fmt: skip
        except (DomainError, ValueError) as refused:
            message = refused.detail if isinstance(refused, DomainError) else str(refused)
            return await _admin_page(400, error=message)
        return see_other("/admin")

    @post("/users/{username:str}/role")
    async def change_role(self, username: str, request: Request) -> Template | Redirect:
        form = await form_data(request)
        try:
            await accounts.set_role(username, Role.named(form.get("role") or ""))
        except (DomainError, ValueError) as refused:
            return await _admin_page(400, error=getattr(refused, "detail", str(refused)))
        return see_other("/admin")

    @post("/tokens")
    async def create_token(self, request: Request) -> Template:
        form = await form_data(request)
        try:
            token = await accounts.create_token(form.get("username") or "", form.get("name") or "")
        except DomainError as refused:
            return await _admin_page(400, error=refused.detail)
        return await _admin_page(new_token=token, token_user=form.get("username"))

    @post("/tokens/{token_id:int}/revoke")
    async def revoke(self, token_id: int) -> Redirect:
        await accounts.revoke_token(token_id)
        return see_other("/admin")

    @post("/settings")
    async def settings(self, request: Request) -> Template | Redirect:
        form = await form_data(request)
        raw = (form.get("books_closed_through") or "").strip()
        try:
            await accounts.set_books_closed_through(date.fromisoformat(raw) if raw else None)
        except ValueError:
            return await _admin_page(400, error="books_closed_through: must be a date like 2026-10-31, or empty")
        return see_other("/admin")


async def _admin_page(status: int = 200, **extra: Any) -> Template:
    return page("admin/index.html", status, section="admin", users=await accounts.list_users(),
                tokens=await accounts.list_tokens(), closed=await accounts.books_closed_through(),
                roles=[r.label for r in Role], backup=await backup.admin_status(), **extra)  # fmt: skip


class AuditPages(Controller):
    path = "/audit"
    guards = [requires(Role.MANAGER)]
    include_in_schema = False

    @get("/")
    async def index(self) -> Template:
        async with read_only() as conn:
            rows = await conn.fetch(
                "SELECT id, at, actor, action, transaction_id, before, after FROM audit_log ORDER BY id DESC LIMIT 200"
            )
        return page("audit.html", section="audit", rows=[dict(r) for r in rows])
