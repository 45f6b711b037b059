"""Users (Argon2id passwords), browser sessions, API tokens, login rate limits and settings."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.access import Role
from app.domain.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound
from app.services.database import read_only, unit_of_work

HASHER = PasswordHasher()  # Argon2id with the library's current parameters
SESSION_DAYS = 14
TOKEN_CACHE_SECONDS = 5.0
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Identity:
    user_id: int
    username: str
    role: Role
    via: str  # "session" or "token"
    csrf: str | None = None  # sessions only


class LoginRefused(DomainError):
    """Wrong username or password (the message never says which)."""


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins; try again in {retry_after} seconds", {"retry_after": retry_after})
        self.retry_after = retry_after


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- users -----------------------------------------------------------------------------------

_users_exist = False


async def users_exist() -> bool:
    global _users_exist
    if not _users_exist:
        async with read_only() as conn:
            _users_exist = bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM app_user)"))
    return _users_exist


def _check_user(username: str, password: str) -> None:
    errors = []
    if not USERNAME.match(username or ""):
        errors.append(
            FieldError("username", "must be 1–100 letters, digits or . _ @ -, starting with a letter or digit")
        )
    if len(password or "") < 8:
        errors.append(FieldError("password", "must be at least 8 characters"))
    if errors:
        raise InvalidInput(errors)


async def create_user(username: str, password: str, role: Role, *, first_admin: bool = False) -> int:
    """A new user. `first_admin` succeeds only while no user exists (the one-time setup page)."""
    _check_user(username, password)
    async with unit_of_work() as conn:
        if first_admin:
            await conn.execute("LOCK TABLE app_user IN EXCLUSIVE MODE")
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM app_user)"):
                raise Conflict("The first administrator already exists; log in instead")
        try:
            user_id: int = await conn.fetchval(
                "INSERT INTO app_user (username, password_hash, role) VALUES ($1, $2, $3) RETURNING id",
                username, HASHER.hash(password), role.label,
            )  # fmt: skip
        except Exception as exc:
            if "unique" in str(exc).lower():
                raise Conflict(f"User {username!r} already exists", {"field": "username"}) from None
            raise
    return user_id


async def set_role(username: str, role: Role) -> None:
    async with unit_of_work() as conn:
        changed = await conn.execute("UPDATE app_user SET role = $2 WHERE username = $1", username, role.label)
        if changed.endswith(" 0"):
            raise NotFound(f"No user {username!r}")
        await conn.execute(
            "DELETE FROM browser_session WHERE user_id = (SELECT id FROM app_user WHERE username = $1)", username
        )
    _token_cache.clear()


async def list_users() -> list[dict[str, object]]:
    async with read_only() as conn:
        rows = await conn.fetch("SELECT id, username, role, created_at FROM app_user ORDER BY username")
    return [dict(r) for r in rows]


# --- logging in ------------------------------------------------------------------------------


async def authenticate(username: str, password: str, address: str) -> Identity:
    """Check a password, counting failures per account and per address across processes."""
    async with unit_of_work() as conn:
        await _refuse_if_limited(conn, username, address)
        row = await conn.fetchrow("SELECT id, password_hash, role FROM app_user WHERE username = $1", username)
        ok = False
        if row is not None:
            try:
                ok = HASHER.verify(row["password_hash"], password)
            except (VerificationError, InvalidHashError):
                ok = False
        await conn.execute(
            "INSERT INTO login_attempt (username, address, succeeded) VALUES ($1, $2, $3)", username, address, ok
        )
        if ok and HASHER.check_needs_rehash(row["password_hash"]):
            await conn.execute("UPDATE app_user SET password_hash = $2 WHERE id = $1", row["id"], HASHER.hash(password))
    if not ok or row is None:
        raise LoginRefused("Wrong username or password")
    return Identity(row["id"], username, Role.named(row["role"]), "session")


async def _refuse_if_limited(conn: object, username: str, address: str) -> None:
    since = datetime.now().astimezone() - WINDOW
    for column, value, most in (("username", username, MAX_FAILURES_PER_ACCOUNT),
                                ("address", address, MAX_FAILURES_PER_ADDRESS)):  # fmt: skip
        row = await conn.fetchrow(  # type: ignore[attr-defined]
            f"""SELECT count(*) AS n, min(at) AS first FROM login_attempt
                WHERE {column} = $1 AND NOT succeeded AND at > $2""",
            value, since,
        )  # fmt: skip
        if row["n"] >= most:
            retry = int((row["first"] + WINDOW - datetime.now().astimezone()).total_seconds()) + 1
            raise RateLimited(max(retry, 1))


async def open_session(user_id: int, replacing: str | None = None) -> tuple[str, str]:
    """A new session id (rotated at every login) and its CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with unit_of_work() as conn:
        if replacing:
            await conn.execute("DELETE FROM browser_session WHERE token_hash = $1", digest(replacing))
        await conn.execute(
            "INSERT INTO browser_session (token_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
            digest(token), user_id, csrf, datetime.now().astimezone() + timedelta(days=SESSION_DAYS),
        )  # fmt: skip
    return token, csrf


async def session_identity(token: str) -> Identity | None:
    async with read_only() as conn:
        row = await conn.fetchrow(
            """SELECT u.id, u.username, u.role, s.csrf_token FROM browser_session s JOIN app_user u ON u.id = s.user_id
               WHERE s.token_hash = $1 AND s.expires_at > now()""",
            digest(token),
        )
    return Identity(row["id"], row["username"], Role.named(row["role"]), "session", row["csrf_token"]) if row else None


async def close_session(token: str) -> None:
    async with unit_of_work() as conn:
        await conn.execute("DELETE FROM browser_session WHERE token_hash = $1", digest(token))


# --- API tokens ------------------------------------------------------------------------------

_token_cache: dict[str, tuple[float, Identity | None]] = {}


async def create_token(username: str, name: str = "") -> str:
    """A new token for `username`, returned once; only its SHA-256 is stored."""
    token = "sr_" + secrets.token_urlsafe(32)
    async with unit_of_work() as conn:
        user_id = await conn.fetchval("SELECT id FROM app_user WHERE username = $1", username)
        if user_id is None:
            raise NotFound(f"No user {username!r}")
        await conn.execute("INSERT INTO api_token (user_id, token_hash, name) VALUES ($1, $2, $3)",
                           user_id, digest(token), name[:100])  # fmt: skip
    return token


async def revoke_token(token_id: int) -> None:
    async with unit_of_work() as conn:
        await conn.execute("UPDATE api_token SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id)
    _token_cache.clear()


async def list_tokens() -> list[dict[str, object]]:
    async with read_only() as conn:
        rows = await conn.fetch(
            """SELECT t.id, t.name, u.username, t.created_at, t.revoked_at FROM api_token t
               JOIN app_user u ON u.id = t.user_id ORDER BY t.created_at DESC"""
        )
    return [dict(r) for r in rows]


async def token_identity(token: str) -> Identity | None:
    """Looked up at most every few seconds per token: the hot path of an order system."""
    key = digest(token)
    cached = _token_cache.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    async with read_only() as conn:
        row = await conn.fetchrow(
            """SELECT u.id, u.username, u.role FROM api_token t JOIN app_user u ON u.id = t.user_id
               WHERE t.token_hash = $1 AND t.revoked_at IS NULL""",
            key,
        )
    identity = Identity(row["id"], row["username"], Role.named(row["role"]), "token") if row else None
    _token_cache[key] = (time.monotonic() + TOKEN_CACHE_SECONDS, identity)
    return identity


# --- settings --------------------------------------------------------------------------------


async def books_closed_through(conn: object | None = None) -> date | None:
    query = "SELECT value FROM app_setting WHERE key = 'books_closed_through'"
    if conn is None:
        async with read_only() as own:
            value = await own.fetchval(query)
    else:
        value = await conn.fetchval(query)  # type: ignore[attr-defined]
    return date.fromisoformat(value) if value else None


async def set_books_closed_through(value: date | None) -> None:
    async with unit_of_work() as conn:
        await conn.execute(
            """INSERT INTO app_setting (key, value) VALUES ('books_closed_through', $1)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
            value.isoformat() if value else None,
        )
