from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlparse

from litestar import Controller, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from app.display import Display
from app.domain.access import Role
from app.domain.errors import DomainError, NotFound
from app.services.accounts import SESSION_DAYS, AccountService, Identity, LoginRefused
from app.services.backup import BackupService
from app.services.ledger import LedgerService
from app.web.auth import SESSION_COOKIE, secret_sent
from app.web.pages.forms import form_data, page, problem, see_other


def _safe_next(raw: str | None) -> str:
    """Back to the page asked for — on this site only."""
    target = urlparse(raw or "/")
    return raw if raw and not target.scheme and not target.netloc and raw.startswith("/") else "/"


def _start_session(token: str, target: str) -> Redirect:
    cookie = Cookie(key=SESSION_COOKIE, value=token, httponly=True, samesite="lax", path="/",
                    max_age=SESSION_DAYS * 86400)  # fmt: skip
    return Redirect(target, status_code=303, cookies=[cookie])


class LoginPages(Controller):
    include_in_schema = False

    @get("/login")
    async def form(
        self, accounts: NamedDependency[AccountService], next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if not await accounts.users_exist():
            return see_other("/setup")
        return page("login.html", next=_safe_next(next))

    @post("/login", opt={"starts_session": True})
    async def login(self, accounts: NamedDependency[AccountService], request: HTMXRequest) -> Template | Redirect:
        form = await form_data(request)
        address = request.client.host if request.client else "unknown"
        try:
            who = await accounts.authenticate(form.get("username") or "", form.get("password") or "", address)
        except LoginRefused as refused:
            return page("login.html", 401, error=refused.detail, next=_safe_next(form.get("next")),
                        username=form.get("username") or "")  # fmt: skip
        token, _ = await accounts.open_session(who.user_id, replacing=request.cookies.get(SESSION_COOKIE))
        return _start_session(token, _safe_next(form.get("next")))

    @post("/logout", opt={"role": Role.VIEWER})
    async def logout(self, accounts: NamedDependency[AccountService], request: HTMXRequest) -> Redirect:
        if token := request.cookies.get(SESSION_COOKIE):
            await accounts.close_session(token)
        response = see_other("/login")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @get("/setup")
    async def setup_form(self, accounts: NamedDependency[AccountService], request: HTMXRequest) -> Template | Redirect:
        if await accounts.users_exist():
            if "text/html" in request.headers.get("accept", ""):  # a browser: to the login page, not a JSON 404
                return see_other("/login")
            raise NotFoundException("Setup is done; log in instead")
        return page("setup.html")

    @post("/setup", opt={"starts_session": True})
    async def setup(self, accounts: NamedDependency[AccountService], request: HTMXRequest) -> Template | Redirect:
        form = await form_data(request)
        try:
            user_id = await accounts.create_user(form.get("username") or "", form.get("password") or "", Role.ADMIN,
                                                 first_admin=True)  # fmt: skip
        except DomainError as refused:
            if await accounts.users_exist():
                raise NotFoundException("Setup is done; log in instead") from None
            return page("setup.html", 400, error=problem(refused), username=form.get("username") or "")
        token, _ = await accounts.open_session(user_id)
        return _start_session(token, "/")


class AdminPages(Controller):
    """Users, API tokens and settings. Every form answers with a redirect back to /admin (post/
    redirect/get: a reload repeats nothing), which then says once what was done — a new API token
    included — from a notice kept in the database for the session or token that sent the form."""

    path = "/admin"
    opt = {"role": Role.ADMIN}
    include_in_schema = False

    @get("/")
    async def index(
        self, accounts: NamedDependency[AccountService], backups: NamedDependency[BackupService], request: HTMXRequest
    ) -> Template:
        return await _admin_page(accounts, backups, notices=await accounts.take_notices(_holder(request)))

    @post("/users")
    async def create_user(
        self, accounts: NamedDependency[AccountService], backups: NamedDependency[BackupService], request: HTMXRequest
    ) -> Template | Redirect:
        form = await form_data(request)
        username, role = (form.get("username") or "").strip(), form.get("role") or "viewer"
        location = form.get("location") or None  # the form offers it only while several locations exist
        try:
            await accounts.create_user(username, form.get("password") or "", Role.named(role),
                                       actor=request.user.username, location=location)  # fmt: skip
        except (DomainError, ValueError) as refused:
            kept = {"username": username, "role": role, "location": location}
            return await _admin_page(accounts, backups, 400, add_user=_admin_problem(refused), new_user=kept)
        where = f", recording only at {location}" if location else ""
        return await _done(accounts, request, f"Added user {username} ({role}{where}). They can log in now.")

    @post("/users/{username:str}/location")
    async def change_location(
        self,
        accounts: NamedDependency[AccountService],
        backups: NamedDependency[BackupService],
        username: FromPath[str],
        request: HTMXRequest,
    ) -> Template | Redirect:
        """Limit a user to one location (a store's clerk records only there), or to none."""
        form = await form_data(request)
        location = form.get("location") or None
        try:
            changed = await accounts.set_location(username, location, actor=request.user.username)
        except DomainError as refused:
            status = 404 if isinstance(refused, NotFound) else 400
            return await _admin_page(accounts, backups, status, error=_admin_problem(refused)["message"])
        where = f"records only at {location}" if location else "records at every location"
        return await _done(accounts, request, f"{username} {where}." if changed else f"{username} already {where}.")

    @post("/users/{username:str}/role")
    async def change_role(
        self,
        accounts: NamedDependency[AccountService],
        backups: NamedDependency[BackupService],
        username: FromPath[str],
        request: HTMXRequest,
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            role = Role.named(form.get("role") or "")
            await accounts.set_role(username, role, actor=request.user.username)
        except (DomainError, ValueError) as refused:
            return await _admin_page(accounts, backups, 400, error=_admin_problem(refused)["message"])
        said = f"{username} is now {role.label}; their sessions ended (they log in again)."
        return await _done(accounts, request, said)

    @post("/passwords")
    async def set_password(
        self, accounts: NamedDependency[AccountService], backups: NamedDependency[BackupService], request: HTMXRequest
    ) -> Template | Redirect:
        form = await form_data(request)
        username = form.get("username") or ""
        me: Identity = request.user
        own = request.cookies.get(SESSION_COOKIE) if me.via == "session" and me.username == username else None
        try:
            await accounts.set_password(username, form.get("password") or "", actor=me.username, keep_session=own)
        except DomainError as refused:
            return await _admin_page(
                accounts, backups, 400, set_password=_admin_problem(refused), password_user=username
            )
        others = "your other sessions ended" if own else "their sessions ended"
        return await _done(accounts, request, f"Password of {username} changed; {others}.")

    @get("/users/{username:str}/disable")
    async def confirm_disable(self, accounts: NamedDependency[AccountService], username: FromPath[str]) -> Template:
        """Deactivating someone is asked twice, with or without JavaScript: this page, then its button."""
        found = [u for u in await accounts.list_users() if u["username"] == username]
        if not found:
            raise NotFoundException(f"No user {username!r}")
        return page("admin/disable.html", section="admin", user=found[0])

    @post("/users/{username:str}/disable")
    async def disable(
        self,
        accounts: NamedDependency[AccountService],
        backups: NamedDependency[BackupService],
        username: FromPath[str],
        request: HTMXRequest,
    ) -> Template | Redirect:
        try:
            changed = await accounts.disable_user(username, actor=request.user.username)
        except DomainError as refused:
            return await _admin_page(
                accounts, backups, 400 if not isinstance(refused, NotFound) else 404, error=refused.detail
            )
        if not changed:
            return await _done(accounts, request, f"{username} was already deactivated.")
        said = f"{username} is deactivated: they cannot log in, their sessions ended and their API tokens are revoked."
        return await _done(accounts, request, said)

    @post("/users/{username:str}/enable")
    async def enable(
        self,
        accounts: NamedDependency[AccountService],
        backups: NamedDependency[BackupService],
        username: FromPath[str],
        request: HTMXRequest,
    ) -> Template | Redirect:
        try:
            changed = await accounts.enable_user(username, actor=request.user.username)
        except DomainError as refused:
            return await _admin_page(
                accounts, backups, 400 if not isinstance(refused, NotFound) else 404, error=refused.detail
            )
        return await _done(accounts, request, f"{username} can log in again (API tokens revoked before stay revoked)."
                           if changed else f"{username} was not deactivated.")  # fmt: skip

    @post("/tokens")
    async def create_token(
        self, accounts: NamedDependency[AccountService], backups: NamedDependency[BackupService], request: HTMXRequest
    ) -> Template | Redirect:
        form = await form_data(request)
        username, name = form.get("username") or "", form.get("name") or ""
        try:
            token = await accounts.create_token(username, name, actor=request.user.username)
        except DomainError as refused:
            return await _admin_page(accounts, backups, 400, error=refused.detail)
        label = f" “{name.strip()}”" if name.strip() else ""
        await accounts.leave_notice(_holder(request), f"New API token{label} for {username}", secret=token)
        return see_other("/admin")

    @post("/tokens/{token_id:int}/revoke")
    async def revoke(
        self, accounts: NamedDependency[AccountService], token_id: FromPath[int], request: HTMXRequest
    ) -> Redirect:
        await accounts.revoke_token(token_id, actor=request.user.username)
        return await _done(accounts, request, "The token is revoked: it stops working at once, in every process.")

    @post("/settings")
    async def save_settings(
        self, accounts: NamedDependency[AccountService], backups: NamedDependency[BackupService], request: HTMXRequest,
        ledger: NamedDependency[LedgerService], display: NamedDependency[Display],
    ) -> Template | Redirect:  # fmt: skip
        form = await form_data(request)
        raw = (form.get("books_closed_through") or "").strip()
        try:
            closed = date.fromisoformat(raw) if raw else None
        except ValueError:
            error = "books_closed_through: must be a date like 2026-10-31, or empty"
            return await _admin_page(accounts, backups, 400, error=error)
        today = ledger.clock().astimezone(ledger.zone).date()
        if closed is not None and closed > today:  # every sale until then would be refused
            error = (f"Books closed through: {display.day(closed)} has not come yet. A period is closed once "
                     f"it is over: today ({display.day(today)}) at the latest.")  # fmt: skip
            return await _admin_page(accounts, backups, 400, error=error)
        await accounts.set_books_closed_through(closed, actor=request.user.username)
        return await _done(accounts, request, f"Saved: the books are closed through {closed.isoformat()}." if closed
                           else "Saved: no closed period.")  # fmt: skip


def _holder(request: HTMXRequest) -> str:
    """The secret of whoever sent this request (API token or session id): notices are kept for it."""
    return secret_sent(request)[1]


async def _done(accounts: AccountService, request: HTMXRequest, message: str) -> Redirect:
    await accounts.leave_notice(_holder(request), message)
    return see_other("/admin")


def _admin_problem(refused: Exception) -> dict[str, Any]:
    """A refusal as a form shows it: a message, and each field's own beside it."""
    if isinstance(refused, DomainError):
        found = problem(refused)
        if not found["fields"] and refused.extra.get("field"):
            found["fields"] = {refused.extra["field"]: refused.detail}
        return found
    return {"message": str(refused), "fields": {"role": str(refused)}}


async def _admin_page(accounts: AccountService, backups: BackupService, status: int = 200, **extra: Any) -> Template:
    return page("admin/index.html", status, section="admin", users=await accounts.list_users(),
                tokens=await accounts.list_tokens(), closed=await accounts.books_closed_through(),
                roles=[r.label for r in Role], locations=await accounts.location_codes(), backup=await backups.status(),
                log=await accounts.admin_log(), **extra)  # fmt: skip
