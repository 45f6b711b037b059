"""Users (Argon2id passwords), browser sessions, API tokens, login rate limits, the admin's notices
and the books-closed setting: `AccountService`, one per app (or CLI command), on its Database."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.domain.access import Role
from app.domain.errors import Conflict, DomainError, FieldError, FieldErrors, InvalidInput, NotFound
from app.domain.immutable import immutable
from app.intake import fields
from app.intake.requests import location_code
from app.persistence import accounts as repo
from app.persistence import admin_log as admin_log_rows
from app.persistence import admin_notices
from app.persistence import locations as location_rows
from app.persistence import settings as settings_rows
from app.persistence.database import Database
from app.services.coalesced import Coalesced

HASHER = PasswordHasher()  # Argon2id with the library's current parameters
SESSION_DAYS = 14
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_MOST = 10_000  # tokens kept at once; past it, expired and unknown ones are dropped
TOKEN_NAME_MAX = 100  # characters of what a token is for
TOKEN_LONGEST = 64  # characters: every token made is "sr_" and 43 more; a longer one is never looked up or kept
WINDOW = timedelta(minutes=15)
# Failures within WINDOW. One address guessing one account is stopped at 5, and stops only itself:
# a clerk logging in from the counter is not locked out by someone else's wrong passwords (a new-user
# trial locked a clerk out for 15 minutes that way). Guesses at one account spread over many addresses
# are stopped at 50, and one address guessing many accounts at 20.
MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS = 5
MAX_FAILURES_PER_ACCOUNT = 50
MAX_FAILURES_PER_ADDRESS = 20
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
# Argon2 (64 MiB, about 0.1 s of CPU each) runs in worker threads, at most this many at once per process.
HASH_WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
NOTICE_MINUTES = 10  # a one-time notice not shown by then is dropped
T = TypeVar("T")
log = logging.getLogger("stockroom.accounts")


@immutable
class Identity:
    user_id: int
    username: str
    role: Role
    via: str  # "session" or "token"
    csrf: str | None = None  # sessions only
    # The one location they record at (SPEC §2 "Stock locations": a store's clerk), for their sessions
    # and API tokens alike; None: every location. Services take it as `within`.
    location: str | None = None


class LoginRefused(DomainError):
    """Wrong username or password (the message never says which)."""


def _wait(seconds: int) -> str:
    """A wait as a person says it: "15 minutes" (rounded up), "40 seconds" under a minute."""
    if seconds < 60:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed logins; try again in {_wait(retry_after)}", {"retry_after": retry_after})
        self.retry_after = retry_after


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


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


def _attempt_key(username: str) -> str:
    """The name attempts are counted under: the name itself when it could be a user's, else a digest
    (a name too long for the column, or with characters no user name has, can never log in)."""
    if USERNAME.fullmatch(username):
        return username
    return "~" + hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()


def _identity(holder: repo.Holder, via: str) -> Identity:
    return Identity(holder.user_id, holder.username, Role.named(holder.role), via, holder.csrf_token, holder.location)


async def _known_location(conn: asyncpg.Connection, raw: str | None) -> str | None:
    """The location a user is to be limited to (None or "" for none), which must exist: else a 400
    naming the field `location`."""
    errors = FieldErrors()
    code = location_code(errors, "location", raw)
    errors.raise_if_any()
    if code is not None and await location_rows.by_code(conn, code) is None:
        raise InvalidInput([FieldError("location", f"no location has the code {code!r}")])
    return code


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


@immutable
class Notice:
    message: str
    secret: str | None = None  # a new API token, shown once


class AccountService:
    """Accounts on one Database, with what this process remembers between requests: that a user
    exists (once true, it stays true), the token cache, and the Argon2 worker slots."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._users_exist = False
        self._token_cache: dict[str, tuple[float, Identity | None]] = {}
        self._token_reads: Coalesced[str, Identity] = Coalesced(self._read_tokens)
        # Account changes this process has been told of (its own, or NOTIFY from others): an open
        # stream reads its session again only when this has moved (app.web.live_credentials).
        self.account_changes = 0
        self._hash_slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    # --- users ---------------------------------------------------------------------------------

    async def users_exist(self) -> bool:
        if not self._users_exist:
            async with self.db.read_only() as conn:
                self._users_exist = await repo.any_user(conn)
        return self._users_exist

    async def _in_hash_worker(self, work: Callable[..., T], *args: object) -> T:
        """Run Argon2 in a worker thread (argon2-cffi releases the GIL), at most HASH_WORKERS at once:
        the event loop keeps answering while passwords are checked, and a burst of logins queues here
        instead of taking every core and 64 MiB each. Callers hold no database connection meanwhile."""
        loop = asyncio.get_running_loop()
        if self._hash_slots is None or self._hash_slots[0] is not loop:
            self._hash_slots = (loop, asyncio.Semaphore(HASH_WORKERS))
        async with self._hash_slots[1]:
            return await asyncio.to_thread(work, *args)

    async def create_user(
        self, username: str, password: str, role: Role, *, first_admin: bool = False, actor: str | None = None,
        location: str | None = None,
    ) -> int:  # fmt: skip
        """A new user. `first_admin` succeeds only while no user exists (the one-time setup page).
        Logged in the admin log as done by `actor` (the setup page or the shell when none is named).
        `location`: the one location they record at (an existing code), None for every location."""
        _check_user(username, password)
        password_hash = await self._in_hash_worker(HASHER.hash, password)
        async with self.db.unit_of_work() as conn:
            if first_admin:
                await repo.lock_users(conn)
                if await repo.any_user(conn):
                    raise Conflict("The first administrator already exists; log in instead")
            limited_to = await _known_location(conn, location)
            user_id = await repo.add_user(conn, username, password_hash, role.label, limited_to)
            if user_id is None:
                raise Conflict(f"User {username!r} already exists", {"field": "username"})
            who = actor or (username if first_admin else "shell")
            detail = {"role": role.label} | ({"location": limited_to} if limited_to else {})
            await admin_log_rows.record(conn, who, "user.create", username, detail)
        return user_id

    async def set_role(self, username: str, role: Role, *, actor: str = "shell") -> None:
        """A new role; the user's sessions end (they log in again with it). The last active
        administrator keeps the role."""
        async with self.db.unit_of_work() as conn:
            user = await _user_to_change(conn, username)
            if user.role == Role.ADMIN.label and role is not Role.ADMIN:
                await _keep_an_admin(conn, user, f"{username} is the last active administrator: make another one first")
            await repo.set_role(conn, user.id, role.label)
            await repo.end_sessions_of(conn, user.id)
            await admin_log_rows.record(conn, actor, "user.role", username, {"before": user.role, "after": role.label})
            await repo.accounts_changed(conn)
        self._forget_identities()

    async def set_location(self, username: str, location: str | None, *, actor: str = "shell") -> bool:
        """Limit a user to one location (an existing code), or to none (None or ""): from their next
        request on, in every process (their sessions read it at each request; cached tokens are
        dropped at the commit's NOTIFY). False when it was already so."""
        async with self.db.unit_of_work() as conn:
            user = await _user_to_change(conn, username)
            limited_to = await _known_location(conn, location)
            if limited_to == user.location:
                return False
            await repo.set_location(conn, user.id, limited_to)
            change = {"before": user.location, "after": limited_to}
            await admin_log_rows.record(conn, actor, "user.location", username, change)
            await repo.accounts_changed(conn)
        self._forget_identities()
        return True

    async def set_password(
        self, username: str, password: str, *, actor: str = "shell", keep_session: str | None = None
    ) -> None:
        """A new password (Argon2id, hashed in a worker thread before any connection is taken). Every
        session of the user ends, but `keep_session` (the raw session id of someone changing their own
        password in the browser). A deactivated user stays deactivated."""
        if problems := _password_errors(password):
            raise InvalidInput(problems)
        password_hash = await self._in_hash_worker(HASHER.hash, password)
        async with self.db.unit_of_work() as conn:
            user = await _user_to_change(conn, username)
            await repo.set_password_hash(conn, user.id, password_hash)
            await repo.end_sessions_of(conn, user.id, keeping=digest(keep_session) if keep_session else "")
            await admin_log_rows.record(conn, actor, "user.password", username, None)
            await repo.accounts_changed(conn)
        self._forget_identities()

    async def disable_user(self, username: str, *, actor: str = "shell") -> bool:
        """Deactivate a user: no login, every session ended and every API token revoked, in one
        transaction; other processes drop their cached tokens when it commits (NOTIFY). False when the
        user was already deactivated. The last active administrator cannot be deactivated."""
        async with self.db.unit_of_work() as conn:
            user = await _user_to_change(conn, username)
            if user.disabled_at is not None:
                return False
            if user.role == Role.ADMIN.label:
                refusal = f"{username} is the last active administrator: it cannot be deactivated"
                await _keep_an_admin(conn, user, refusal)
            await repo.set_disabled(conn, user.id, True)
            await repo.end_sessions_of(conn, user.id)
            revoked = await repo.revoke_tokens_of(conn, user.id)
            await admin_log_rows.record(conn, actor, "user.disable", username, {"tokens_revoked": revoked})
            await repo.accounts_changed(conn)
        self._forget_identities()
        return True

    async def enable_user(self, username: str, *, actor: str = "shell") -> bool:
        """Let a deactivated user log in again (tokens revoked when deactivated stay revoked)."""
        async with self.db.unit_of_work() as conn:
            user = await _user_to_change(conn, username)
            if user.disabled_at is None:
                return False
            await repo.set_disabled(conn, user.id, False)
            await admin_log_rows.record(conn, actor, "user.enable", username, None)
            await repo.accounts_changed(conn)
        return True

    async def location_codes(self) -> list[str]:
        """The locations a user may be limited to (MAIN first)."""
        async with self.db.read_only() as conn:
            return [found.code for found in await location_rows.all_locations(conn)]

    async def list_users(self) -> list[dict[str, Any]]:
        async with self.db.read_only() as conn:
            return await repo.users(conn)

    async def admin_log(self, limit: int = 50) -> list[dict[str, Any]]:
        async with self.db.read_only() as conn:
            return await admin_log_rows.latest(conn, limit)

    # --- logging in ----------------------------------------------------------------------------

    async def authenticate(self, username: str, password: str, address: str) -> Identity:
        """Check a password, counting failures per account from an address, per account and per address,
        across processes.

        1. One short transaction, under advisory locks on the account and the address (so that
           concurrent attempts, in any process, count one after another): refuse when either limit is
           reached, else record the attempt as a failure and read the user. 2. With the connection
           released, check the password in a worker thread — against a dummy hash when there is no such
           user. 3. Only when it matches, a second short transaction marks the attempt as a success.
        An attempt cut short between the two (a crash) stays counted as a failure."""
        account = _attempt_key(username)
        address = address[:100]
        async with self.db.unit_of_work() as conn:
            admitted = await repo.admit_attempt(
                conn, account, address, WINDOW, MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS, MAX_FAILURES_PER_ADDRESS,
                username if account == username else None, MAX_FAILURES_PER_ACCOUNT,
            )  # fmt: skip
        if admitted.attempt_id is None:
            raise RateLimited(admitted.retry_after)
        ok, new_hash = await self._in_hash_worker(_check_password, admitted.password_hash, password)
        if not ok or admitted.user_id is None or admitted.role is None:
            raise LoginRefused("Wrong username or password")
        async with self.db.unit_of_work() as conn:
            await repo.attempt_succeeded(conn, admitted.attempt_id)
            if new_hash and admitted.password_hash:
                await repo.rehash_password(conn, admitted.user_id, admitted.password_hash, new_hash)
        return Identity(admitted.user_id, username, Role.named(admitted.role), "session")

    async def open_session(self, user_id: int, replacing: str | None = None) -> tuple[str, str]:
        """A new session id (rotated at every login) and its CSRF token."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        async with self.db.unit_of_work() as conn:
            if replacing:
                await repo.end_session(conn, digest(replacing))
            await repo.add_session(conn, digest(token), user_id, csrf,
                                   datetime.now().astimezone() + timedelta(days=SESSION_DAYS))  # fmt: skip
        return token, csrf

    async def session_identity(self, token: str) -> Identity | None:
        async with self.db.read_only() as conn:
            holder = await repo.session_holder(conn, digest(token))
        return _identity(holder, "session") if holder else None

    async def close_session(self, token: str) -> None:
        """Log out; announced (NOTIFY) so that streams opened with this session end in every process."""
        async with self.db.unit_of_work() as conn:
            await repo.end_session(conn, digest(token))
            await repo.accounts_changed(conn)
        self._forget_identities()

    # --- API tokens ----------------------------------------------------------------------------

    async def create_token(self, username: str, name: str = "", *, actor: str = "shell") -> str:
        """A new token for `username`, returned once; only its SHA-256 is stored. Its name (what it is
        for) is text of at most TOKEN_NAME_MAX characters: a longer one is refused, never cut."""
        errors = FieldErrors()
        name = fields.text(errors, "name", name, max_len=TOKEN_NAME_MAX) or ""
        errors.raise_if_any()
        token = "sr_" + secrets.token_urlsafe(32)
        async with self.db.unit_of_work() as conn:
            user = await repo.token_owner(conn, username)
            if user is None:
                raise NotFound(f"No user {username!r}")
            if user.disabled_at is not None:
                raise Conflict(f"{username} is deactivated: activate the user before making a token")
            token_id = await repo.add_token(conn, user.id, digest(token), name)
            detail = {"token_id": token_id, "name": name}
            await admin_log_rows.record(conn, actor, "token.create", username, detail)
        return token

    async def revoke_token(self, token_id: int, *, actor: str = "shell") -> None:
        async with self.db.unit_of_work() as conn:
            owner = await repo.revoke_token(conn, token_id)
            if owner is not None:
                await admin_log_rows.record(conn, actor, "token.revoke", owner, {"token_id": token_id})
                await repo.accounts_changed(conn)
        self._forget_identities()

    async def list_tokens(self) -> list[dict[str, Any]]:
        async with self.db.read_only() as conn:
            return await repo.tokens(conn)

    async def token_identity(self, token: str) -> Identity | None:
        """Looked up at most every few seconds per token: the hot path of an order system. A change to
        who may use a token empties the cache of every process at its commit (`token_cache_listener`);
        should a process's listening connection be down, TOKEN_CACHE_SECONDS bounds how long it can
        still accept a token revoked or deactivated elsewhere."""
        if len(token) > TOKEN_LONGEST:  # cached by the token itself, a long made-up one would hold its size
            return None
        cached = self._token_cache.get(token)  # by the token itself: no hash per request
        now = time.monotonic()
        if cached and cached[0] > now:
            return cached[1]
        changes = self.account_changes
        identity = await self._token_reads.get(token)  # the same token, asked at once, read once
        if self.account_changes != changes:  # the read may predate a revocation: answer, keep nothing
            return identity
        if len(self._token_cache) >= TOKEN_CACHE_MOST:  # made-up tokens must not grow it without end
            self._token_cache = {k: v for k, v in self._token_cache.items() if v[0] > now and v[1] is not None}
        self._token_cache[token] = (time.monotonic() + TOKEN_CACHE_SECONDS, identity)
        return identity

    async def _read_tokens(self, tokens: list[str]) -> dict[str, Identity]:
        found = {}
        async with self.db.read_only() as conn:
            for token in tokens:
                if (holder := await repo.token_holder(conn, digest(token))) is not None:
                    found[token] = _identity(holder, "token")
        return found

    def _forget_identities(self) -> None:
        """Users, tokens or sessions changed: cached tokens are looked up again, open streams re-check."""
        self._token_cache.clear()
        self.account_changes += 1

    def token_cache_listener(self) -> Callable[[object], contextlib.AbstractAsyncContextManager[None]]:
        """A lifespan for the app: one connection per process LISTENs on ACCOUNTS_CHANNEL and empties
        the token cache whenever another process (or the shell) commits a change to users or tokens.
        A lost connection is made again; the cache is emptied each time it is (re)made."""

        @contextlib.asynccontextmanager
        async def lifespan(_: object) -> AsyncIterator[None]:
            task = asyncio.create_task(self._listen_for_account_changes())
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        return lifespan

    async def _listen_for_account_changes(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.db.url, timeout=10)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, ended=lost: ended.set())
                await conn.add_listener(repo.ACCOUNTS_CHANNEL, lambda *_: self._forget_identities())
                self._forget_identities()  # anything changed while not listening
                await lost.wait()
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("account-change listener: %s; retrying", exc)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(1)

    # --- one-time notices after an admin form (post/redirect/get) -----------------------------

    async def leave_notice(self, holder: str, message: str, secret: str | None = None) -> None:
        """Say `message` (and show `secret`) once, on the next page the same session or token asks for."""
        sealed = None
        if secret is not None:
            nonce = secrets.token_bytes(16)
            data = secret.encode()
            sealed = nonce + _xor(data, _sealing(holder, nonce, len(data)))
        async with self.db.unit_of_work() as conn:
            await admin_notices.leave(conn, digest(holder), message, sealed, NOTICE_MINUTES)

    async def take_notices(self, holder: str) -> list[Notice]:
        """The notices left for this session or token, removed as they are read (shown once, in any process)."""
        async with self.db.unit_of_work() as conn:
            stored = await admin_notices.take(conn, digest(holder), NOTICE_MINUTES)
        notices = []
        for notice in stored:
            if not notice.fresh:
                continue
            secret = None
            if notice.sealed is not None:
                nonce, data = notice.sealed[:16], notice.sealed[16:]
                secret = _xor(data, _sealing(holder, nonce, len(data))).decode()
            notices.append(Notice(notice.message, secret))
        return notices

    # --- settings ------------------------------------------------------------------------------

    async def books_closed_through(self) -> date | None:
        async with self.db.read_only() as conn:
            return await settings_rows.books_closed_through(conn)

    async def set_books_closed_through(self, value: date | None, *, actor: str = "shell") -> None:
        async with self.db.unit_of_work() as conn:
            before = await settings_rows.books_closed_through(conn)
            await settings_rows.set_books_closed_through(conn, value)
            if before != value:
                change = {"before": before.isoformat() if before else None,
                          "after": value.isoformat() if value else None}  # fmt: skip
                await admin_log_rows.record(conn, actor, "setting.change", "books_closed_through", change)


async def _user_to_change(conn: asyncpg.Connection, username: str) -> repo.UserToChange:
    user = await repo.user_to_change(conn, username)
    if user is None:
        raise NotFound(f"No user {username!r}")
    return user


async def _keep_an_admin(conn: asyncpg.Connection, user: repo.UserToChange, refusal: str) -> None:
    if not await repo.other_active_users_with_role(conn, Role.ADMIN.label, user.id):
        raise Conflict(refusal)
