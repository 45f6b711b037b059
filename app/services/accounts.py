"""Users (Argon2id passwords), browser sessions, API tokens, login rate limits and settings."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

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
# Argon2 (64 MiB, about 0.1 s of CPU each) runs in worker threads, at most this many at once per process.
HASH_WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
# pg_advisory_xact_lock(namespace, hashtext(key)) while counting and recording a login attempt;
# apart from the product locks' namespace (0x5354) and the backup's (0x5342).
ACCOUNT_LOCK_NAMESPACE = 0x4C55  # "LU": login, per user name
ADDRESS_LOCK_NAMESPACE = 0x4C4E  # "LN": login, per network address
T = TypeVar("T")


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
    if not USERNAME.fullmatch(username or ""):
        errors.append(
            FieldError("username", "must be 1–100 letters, digits or . _ @ -, starting with a letter or digit")
        )
    if len(password or "") < 8:
        errors.append(FieldError("password", "must be at least 8 characters"))
    elif not _encodable(password):
        errors.append(FieldError("password", "must be valid text (no lone surrogate code points)"))
    if errors:
        raise InvalidInput(errors)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- Argon2, off the event loop --------------------------------------------------------------

_hash_slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None


async def _in_hash_worker(work: Callable[..., T], *args: object) -> T:
    """Run Argon2 in a worker thread (argon2-cffi releases the GIL), at most HASH_WORKERS at once:
    the event loop keeps answering while passwords are checked, and a burst of logins queues here
    instead of taking every core and 64 MiB each. Callers hold no database connection meanwhile."""
    global _hash_slots
    loop = asyncio.get_running_loop()
    if _hash_slots is None or _hash_slots[0] is not loop:
        _hash_slots = (loop, asyncio.Semaphore(HASH_WORKERS))
    async with _hash_slots[1]:
        return await asyncio.to_thread(work, *args)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a secret nobody knows, made once with HASHER's parameters: unknown users are
    checked against it, so a wrong login costs the same whether or not the user exists."""
    return HASHER.hash(secrets.token_urlsafe(32))


def _check_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """(whether `password` matches `stored`, a new hash when the stored one's parameters are old).
    Runs in a worker thread. With no stored hash it checks the dummy one, and never matches."""
    dummy = _dummy_hash()
    secret = password.encode("utf-8", "surrogatepass")  # one that could never be stored still costs a check
    try:
        matches = HASHER.verify(stored or dummy, secret)
    except (VerificationError, InvalidHashError):
        return False, None
    if not matches or stored is None:
        return False, None
    return True, HASHER.hash(secret) if HASHER.check_needs_rehash(stored) else None


async def create_user(username: str, password: str, role: Role, *, first_admin: bool = False) -> int:
    """A new user. `first_admin` succeeds only while no user exists (the one-time setup page)."""
    _check_user(username, password)
    password_hash = await _in_hash_worker(HASHER.hash, password)
    async with unit_of_work() as conn:
        if first_admin:
            await conn.execute("LOCK TABLE app_user IN EXCLUSIVE MODE")
            if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM app_user)"):
                raise Conflict("The first administrator already exists; log in instead")
        try:
            user_id: int = await conn.fetchval(
                "INSERT INTO app_user (username, password_hash, role) VALUES ($1, $2, $3) RETURNING id",
                username, password_hash, role.label,
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
    """Check a password, counting failures per account and per address across processes.

    1. One short transaction, under advisory locks on the account and the address (so that
       concurrent attempts, in any process, count one after another): refuse when either limit is
       reached, else record the attempt as a failure and read the user. 2. With the connection
       released, check the password in a worker thread — against a dummy hash when there is no such
       user. 3. Only when it matches, a second short transaction marks the attempt as a success.
    An attempt cut short between the two (a crash) stays counted as a failure."""
    account = _attempt_key(username)
    address = address[:100]
    async with unit_of_work() as conn:
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2)), pg_advisory_xact_lock($3, hashtext($4))",
            ACCOUNT_LOCK_NAMESPACE, account, ADDRESS_LOCK_NAMESPACE, address,
        )  # fmt: skip
        # A statement of its own after the locks, so that its snapshot sees every attempt committed before.
        admitted = await conn.fetchrow(
            _RECORD_ATTEMPT, account, address, WINDOW, MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS,
            username if account == username else None,
        )  # fmt: skip
    if admitted["attempt_id"] is None:
        raise RateLimited(admitted["retry_after"])
    ok, new_hash = await _in_hash_worker(_check_password, admitted["password_hash"], password)
    if not ok:
        raise LoginRefused("Wrong username or password")
    async with unit_of_work() as conn:
        await conn.execute("UPDATE login_attempt SET succeeded = true WHERE id = $1", admitted["attempt_id"])
        if new_hash:
            await conn.execute("UPDATE app_user SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                               admitted["user_id"], admitted["password_hash"], new_hash)  # fmt: skip
    return Identity(admitted["user_id"], username, Role.named(admitted["role"]), "session")


# Counts the recent failures of the account and of the address; below both limits, records this
# attempt (as a failure until the password is found right) and returns its id and the user's row.
# At a limit, records nothing and says when the oldest counted failure leaves the window.
_RECORD_ATTEMPT = """
WITH by_account AS (
    SELECT count(*) AS n, min(at) AS first FROM login_attempt
    WHERE username = $1 AND NOT succeeded AND at > now() - $3::interval
), by_address AS (
    SELECT count(*) AS n, min(at) AS first FROM login_attempt
    WHERE address = $2 AND NOT succeeded AND at > now() - $3::interval
), attempt AS (
    INSERT INTO login_attempt (username, address, succeeded)
    SELECT $1, $2, false FROM by_account, by_address WHERE by_account.n < $4 AND by_address.n < $5
    RETURNING id
)
SELECT (SELECT id FROM attempt) AS attempt_id,
       greatest(1, ceil(extract(epoch FROM
           CASE WHEN by_account.n >= $4 THEN by_account.first ELSE by_address.first END + $3::interval - now()
       )))::int AS retry_after,
       u.id AS user_id, u.password_hash, u.role
FROM by_account CROSS JOIN by_address LEFT JOIN app_user u ON u.username = $6
"""


def _attempt_key(username: str) -> str:
    """The name attempts are counted under: the name itself when it could be a user's, else a digest
    (a name too long for the column, or with characters no user name has, can never log in)."""
    if USERNAME.fullmatch(username):
        return username
    return "~" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()


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
