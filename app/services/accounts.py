"""Users (Argon2id passwords), browser sessions, API tokens, login rate limits and settings."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.access import Role
from app.domain.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound
from app.persistence.database import read_only, unit_of_work

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
ADMINS_LOCK_NAMESPACE = 0x4144  # "AD": changes that could leave no active administrator
# NOTIFY on this channel at the commit of any change to who may use a token (a role, a deactivation,
# a revocation): every process listening empties its token cache at once (see `token_cache_listener`).
ACCOUNTS_CHANNEL = "stockroom_accounts"
NOTICE_MINUTES = 10  # a one-time notice not shown by then is dropped
T = TypeVar("T")
log = logging.getLogger("stockroom.accounts")


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
    errors += _password_errors(password)
    if errors:
        raise InvalidInput(errors)


def _password_errors(password: str) -> list[FieldError]:
    if len(password or "") < 8:
        return [FieldError("password", "must be at least 8 characters")]
    if not _encodable(password):
        return [FieldError("password", "must be valid text (no lone surrogate code points)")]
    return []


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


async def create_user(
    username: str, password: str, role: Role, *, first_admin: bool = False, actor: str | None = None
) -> int:
    """A new user. `first_admin` succeeds only while no user exists (the one-time setup page).
    Logged in the admin log as done by `actor` (the setup page or the shell when none is named)."""
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
        who = actor or (username if first_admin else "shell")
        await _log(conn, who, "user.create", username, {"role": role.label})
    return user_id


async def set_role(username: str, role: Role, *, actor: str = "shell") -> None:
    """A new role; the user's sessions end (they log in again with it). The last active
    administrator keeps the role."""
    async with unit_of_work() as conn:
        user = await _user_for_change(conn, username)
        if user["role"] == Role.ADMIN.label and role is not Role.ADMIN:
            await _keep_an_admin(conn, user, f"{username} is the last active administrator: make another one first")
        await conn.execute("UPDATE app_user SET role = $2 WHERE id = $1", user["id"], role.label)
        await conn.execute("DELETE FROM browser_session WHERE user_id = $1", user["id"])
        await _log(conn, actor, "user.role", username, {"before": user["role"], "after": role.label})
        await _accounts_changed(conn)
    _token_cache.clear()


async def set_password(username: str, password: str, *, actor: str = "shell", keep_session: str | None = None) -> None:
    """A new password (Argon2id, hashed in a worker thread before any connection is taken). Every
    session of the user ends, but `keep_session` (the raw session id of someone changing their own
    password in the browser). A deactivated user stays deactivated."""
    if problems := _password_errors(password):
        raise InvalidInput(problems)
    password_hash = await _in_hash_worker(HASHER.hash, password)
    async with unit_of_work() as conn:
        user = await _user_for_change(conn, username)
        await conn.execute("UPDATE app_user SET password_hash = $2 WHERE id = $1", user["id"], password_hash)
        await conn.execute("DELETE FROM browser_session WHERE user_id = $1 AND token_hash <> $2",
                           user["id"], digest(keep_session) if keep_session else "")  # fmt: skip
        await _log(conn, actor, "user.password", username, None)


async def disable_user(username: str, *, actor: str = "shell") -> bool:
    """Deactivate a user: no login, every session ended and every API token revoked, in one
    transaction; other processes drop their cached tokens when it commits (NOTIFY). False when the
    user was already deactivated. The last active administrator cannot be deactivated."""
    async with unit_of_work() as conn:
        user = await _user_for_change(conn, username)
        if user["disabled_at"] is not None:
            return False
        if user["role"] == Role.ADMIN.label:
            await _keep_an_admin(conn, user, f"{username} is the last active administrator: it cannot be deactivated")
        await conn.execute("UPDATE app_user SET disabled_at = now() WHERE id = $1", user["id"])
        await conn.execute("DELETE FROM browser_session WHERE user_id = $1", user["id"])
        revoked = await conn.fetchval(
            """WITH r AS (UPDATE api_token SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL
               RETURNING 1) SELECT count(*) FROM r""",
            user["id"],
        )
        await _log(conn, actor, "user.disable", username, {"tokens_revoked": revoked})
        await _accounts_changed(conn)
    _token_cache.clear()
    return True


async def enable_user(username: str, *, actor: str = "shell") -> bool:
    """Let a deactivated user log in again (tokens revoked when deactivated stay revoked)."""
    async with unit_of_work() as conn:
        user = await _user_for_change(conn, username)
        if user["disabled_at"] is None:
            return False
        await conn.execute("UPDATE app_user SET disabled_at = NULL WHERE id = $1", user["id"])
        await _log(conn, actor, "user.enable", username, None)
        await _accounts_changed(conn)
    return True


async def _user_for_change(conn: asyncpg.Connection, username: str) -> asyncpg.Record:
    # Every change that could leave no active administrator takes this lock first, so that two
    # administrators deactivating each other at once cannot both succeed.
    await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", ADMINS_LOCK_NAMESPACE)
    user = await conn.fetchrow("SELECT id, role, disabled_at FROM app_user WHERE username = $1 FOR UPDATE", username)
    if user is None:
        raise NotFound(f"No user {username!r}")
    return user


async def _keep_an_admin(conn: asyncpg.Connection, user: asyncpg.Record, refusal: str) -> None:
    others = await conn.fetchval(
        "SELECT count(*) FROM app_user WHERE role = $1 AND disabled_at IS NULL AND id <> $2",
        Role.ADMIN.label, user["id"],
    )  # fmt: skip
    if not others:
        raise Conflict(refusal)


async def _log(conn: asyncpg.Connection, actor: str, action: str, subject: str, detail: object) -> None:
    await conn.execute("INSERT INTO admin_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)",
                       actor[:100], action, subject[:200], None if detail is None else json.dumps(detail))  # fmt: skip


async def _accounts_changed(conn: asyncpg.Connection) -> None:
    """Delivered at commit to every process's `token_cache_listener`."""
    await conn.execute("SELECT pg_notify($1, '')", ACCOUNTS_CHANNEL)


async def list_users() -> list[dict[str, object]]:
    async with read_only() as conn:
        rows = await conn.fetch("SELECT id, username, role, created_at, disabled_at FROM app_user ORDER BY username")
    return [dict(r) for r in rows]


async def admin_log(limit: int = 50) -> list[dict[str, object]]:
    async with read_only() as conn:
        rows = await conn.fetch("SELECT at, actor, action, subject, detail FROM admin_log ORDER BY id DESC LIMIT $1",
                                limit)  # fmt: skip
    return [{**dict(r), "detail": json.loads(r["detail"]) if r["detail"] else None} for r in rows]


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
# attempt (as a failure until the password is found right) and returns its id and the user's row
# (none for a deactivated user: checked against the dummy hash, refused like an unknown name).
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
FROM by_account CROSS JOIN by_address LEFT JOIN app_user u ON u.username = $6 AND u.disabled_at IS NULL
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
               WHERE s.token_hash = $1 AND s.expires_at > now() AND u.disabled_at IS NULL""",
            digest(token),
        )
    return Identity(row["id"], row["username"], Role.named(row["role"]), "session", row["csrf_token"]) if row else None


async def close_session(token: str) -> None:
    async with unit_of_work() as conn:
        await conn.execute("DELETE FROM browser_session WHERE token_hash = $1", digest(token))


# --- API tokens ------------------------------------------------------------------------------

_token_cache: dict[str, tuple[float, Identity | None]] = {}


async def create_token(username: str, name: str = "", *, actor: str = "shell") -> str:
    """A new token for `username`, returned once; only its SHA-256 is stored."""
    token = "sr_" + secrets.token_urlsafe(32)
    async with unit_of_work() as conn:
        user = await conn.fetchrow("SELECT id, disabled_at FROM app_user WHERE username = $1", username)
        if user is None:
            raise NotFound(f"No user {username!r}")
        if user["disabled_at"] is not None:
            raise Conflict(f"{username} is deactivated: activate the user before making a token")
        token_id = await conn.fetchval(
            "INSERT INTO api_token (user_id, token_hash, name) VALUES ($1, $2, $3) RETURNING id",
            user["id"], digest(token), name[:100],
        )  # fmt: skip
        await _log(conn, actor, "token.create", username, {"token_id": token_id, "name": name[:100]})
    return token


async def revoke_token(token_id: int, *, actor: str = "shell") -> None:
    async with unit_of_work() as conn:
        owner = await conn.fetchval(
            """UPDATE api_token t SET revoked_at = now() FROM app_user u
               WHERE t.id = $1 AND t.revoked_at IS NULL AND u.id = t.user_id RETURNING u.username""",
            token_id,
        )
        if owner is not None:
            await _log(conn, actor, "token.revoke", owner, {"token_id": token_id})
            await _accounts_changed(conn)
    _token_cache.clear()


async def list_tokens() -> list[dict[str, object]]:
    async with read_only() as conn:
        rows = await conn.fetch(
            """SELECT t.id, t.name, u.username, t.created_at, t.revoked_at FROM api_token t
               JOIN app_user u ON u.id = t.user_id ORDER BY t.created_at DESC"""
        )
    return [dict(r) for r in rows]


async def token_identity(token: str) -> Identity | None:
    """Looked up at most every few seconds per token: the hot path of an order system. A change to
    who may use a token empties the cache of every process at its commit (`token_cache_listener`);
    should a process's listening connection be down, TOKEN_CACHE_SECONDS bounds how long it can
    still accept a token revoked or deactivated elsewhere."""
    key = digest(token)
    cached = _token_cache.get(key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    async with read_only() as conn:
        row = await conn.fetchrow(
            """SELECT u.id, u.username, u.role FROM api_token t JOIN app_user u ON u.id = t.user_id
               WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL""",
            key,
        )
    identity = Identity(row["id"], row["username"], Role.named(row["role"]), "token") if row else None
    _token_cache[key] = (time.monotonic() + TOKEN_CACHE_SECONDS, identity)
    return identity


def token_cache_listener(url: str) -> Callable[[object], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan for the app: one connection per process LISTENs on ACCOUNTS_CHANNEL and empties
    the token cache whenever another process (or the shell) commits a change to users or tokens.
    A lost connection is made again; the cache is emptied each time it is (re)made."""

    @contextlib.asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[None]:
        task = asyncio.create_task(_listen_for_account_changes(url))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


async def _listen_for_account_changes(url: str) -> None:
    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(url, timeout=10)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, ended=lost: ended.set())
            await conn.add_listener(ACCOUNTS_CHANNEL, lambda *_: _token_cache.clear())
            _token_cache.clear()  # anything changed while not listening
            await lost.wait()
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("account-change listener: %s; retrying", exc)
        finally:
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 2)
        await asyncio.sleep(1)


# --- one-time notices after an admin form (post/redirect/get) ---------------------------------


def _sealing(holder: str, nonce: bytes, length: int) -> bytes:
    """A keystream (HMAC-SHA256 in counter mode) from the holder's session id or API token: only a
    request carrying that secret can open what was sealed for it; the database holds its digest."""
    stream = b""
    counter = 0
    while len(stream) < length:
        block = nonce + counter.to_bytes(4, "big")
        stream += hmac.new(holder.encode(), b"stockroom admin notice" + block, hashlib.sha256).digest()
        counter += 1
    return stream[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


@dataclass(frozen=True, slots=True)
class Notice:
    message: str
    secret: str | None = None  # a new API token, shown once


async def leave_notice(holder: str, message: str, secret: str | None = None) -> None:
    """Say `message` (and show `secret`) once, on the next page the same session or token asks for."""
    sealed = None
    if secret is not None:
        nonce = secrets.token_bytes(16)
        data = secret.encode()
        sealed = nonce + _xor(data, _sealing(holder, nonce, len(data)))
    async with unit_of_work() as conn:
        await conn.execute("DELETE FROM admin_notice WHERE created_at < now() - make_interval(mins => $1)",
                           NOTICE_MINUTES)  # fmt: skip
        await conn.execute("INSERT INTO admin_notice (holder, message, sealed) VALUES ($1, $2, $3)",
                           digest(holder), message, sealed)  # fmt: skip


async def take_notices(holder: str) -> list[Notice]:
    """The notices left for this session or token, removed as they are read (shown once, in any process)."""
    async with unit_of_work() as conn:
        rows = await conn.fetch(
            """DELETE FROM admin_notice WHERE holder = $1 RETURNING id, message, sealed,
                      created_at > now() - make_interval(mins => $2) AS fresh""",
            digest(holder), NOTICE_MINUTES,
        )  # fmt: skip
    notices = []
    for row in sorted(rows, key=lambda r: r["id"]):
        if not row["fresh"]:
            continue
        secret = None
        if row["sealed"] is not None:
            nonce, data = bytes(row["sealed"][:16]), bytes(row["sealed"][16:])
            secret = _xor(data, _sealing(holder, nonce, len(data))).decode()
        notices.append(Notice(row["message"], secret))
    return notices


# --- settings --------------------------------------------------------------------------------


async def books_closed_through(conn: object | None = None) -> date | None:
    query = "SELECT value FROM app_setting WHERE key = 'books_closed_through'"
    if conn is None:
        async with read_only() as own:
            value = await own.fetchval(query)
    else:
        value = await conn.fetchval(query)  # type: ignore[attr-defined]
    return date.fromisoformat(value) if value else None


async def set_books_closed_through(value: date | None, *, actor: str = "shell") -> None:
    async with unit_of_work() as conn:
        before = await books_closed_through(conn)
        await conn.execute(
            """INSERT INTO app_setting (key, value) VALUES ('books_closed_through', $1)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
            value.isoformat() if value else None,
        )
        if before != value:
            change = {"before": before.isoformat() if before else None, "after": value.isoformat() if value else None}
            await _log(conn, actor, "setting.change", "books_closed_through", change)
