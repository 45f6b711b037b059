"""Users (`app_user`), browser sessions (`browser_session`), API tokens (`api_token`) and login
attempts (`login_attempt`); a NOTIFY when who may use a token changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from app.domain.immutable import immutable

# a user as listed (no password hash); `location`: the one they are limited to (SPEC §2), None for all
USER_COLUMNS = ("id", "username", "role", "location", "created_at", "disabled_at")
TOKEN_COLUMNS = ("id", "name", "username", "created_at", "revoked_at")  # a token as listed (its owner's name)
# pg_advisory_xact_lock(namespace, hashtext(key)) while counting and recording a login attempt;
# apart from the product locks' namespace (0x5354) and the backup's (0x5342).
ACCOUNT_LOCK_NAMESPACE = 0x4C55  # "LU": login, per user name
ADDRESS_LOCK_NAMESPACE = 0x4C4E  # "LN": login, per network address
ADMINS_LOCK_NAMESPACE = 0x4144  # "AD": changes that could leave no active administrator
# NOTIFY on this channel at the commit of any change to who may use a token (a role, a deactivation,
# a revocation): every process listening empties its token cache at once.
ACCOUNTS_CHANNEL = "stockroom_accounts"


@immutable
class UserToChange:
    id: int
    role: str
    disabled_at: datetime | None
    location: str | None = None


@immutable
class Holder:
    """Who a session or token belongs to (an active user)."""

    user_id: int
    username: str
    role: str
    csrf_token: str | None = None  # sessions only
    location: str | None = None  # the one location they are limited to; None: every location


@immutable
class Admission:
    """A login attempt counted: `attempt_id` None when a limit is reached (nothing recorded), then
    `retry_after` seconds; the active user of that name, if any (password hash included)."""

    attempt_id: int | None
    retry_after: int
    user_id: int | None
    password_hash: str | None
    role: str | None


def _listed(row: asyncpg.Record, columns: tuple[str, ...]) -> dict[str, Any]:
    return {c: row[c] for c in columns}


# --- users -------------------------------------------------------------------------------------


async def any_user(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM app_user)"))


async def lock_users(conn: asyncpg.Connection) -> None:
    """Until the transaction ends no other can add a user (the one-time setup takes it)."""
    await conn.execute("LOCK TABLE app_user IN EXCLUSIVE MODE")


async def add_user(
    conn: asyncpg.Connection, username: str, password_hash: str, role: str, location: str | None = None
) -> int | None:
    """The new user's id; None when the name is taken."""
    try:
        user_id: int = await conn.fetchval(
            "INSERT INTO app_user (username, password_hash, role, location) VALUES ($1, $2, $3, $4) RETURNING id",
            username, password_hash, role, location,
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        return None
    return user_id


async def user_to_change(conn: asyncpg.Connection, username: str) -> UserToChange | None:
    """The user, locked for the change. Every change that could leave no active administrator takes
    the administrators' lock first, so that two administrators deactivating each other at once
    cannot both succeed."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", ADMINS_LOCK_NAMESPACE)
    row = await conn.fetchrow(
        "SELECT id, role, disabled_at, location FROM app_user WHERE username = $1 FOR UPDATE", username
    )
    return UserToChange(row["id"], row["role"], row["disabled_at"], row["location"]) if row else None


async def other_active_users_with_role(conn: asyncpg.Connection, role: str, user_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM app_user WHERE role = $1 AND disabled_at IS NULL AND id <> $2", role, user_id
    )
    return count


async def set_role(conn: asyncpg.Connection, user_id: int, role: str) -> None:
    await conn.execute("UPDATE app_user SET role = $2 WHERE id = $1", user_id, role)


async def set_location(conn: asyncpg.Connection, user_id: int, location: str | None) -> None:
    await conn.execute("UPDATE app_user SET location = $2 WHERE id = $1", user_id, location)


async def set_password_hash(conn: asyncpg.Connection, user_id: int, password_hash: str) -> None:
    await conn.execute("UPDATE app_user SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def rehash_password(conn: asyncpg.Connection, user_id: int, old_hash: str, new_hash: str) -> None:
    """A stronger hash of the same password, unless the password changed meanwhile."""
    await conn.execute("UPDATE app_user SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                       user_id, old_hash, new_hash)  # fmt: skip


async def set_disabled(conn: asyncpg.Connection, user_id: int, disabled: bool) -> None:
    if disabled:
        await conn.execute("UPDATE app_user SET disabled_at = now() WHERE id = $1", user_id)
    else:
        await conn.execute("UPDATE app_user SET disabled_at = NULL WHERE id = $1", user_id)


async def users(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {', '.join(USER_COLUMNS)} FROM app_user ORDER BY username")
    return [_listed(r, USER_COLUMNS) for r in rows]


async def accounts_changed(conn: asyncpg.Connection) -> None:
    """Delivered at commit to every process listening on ACCOUNTS_CHANNEL."""
    await conn.execute("SELECT pg_notify($1, '')", ACCOUNTS_CHANNEL)


# --- login attempts ------------------------------------------------------------------------------

# Counts the recent failures of the account and of the address; below both limits, records this
# attempt (as a failure until the password is found right) and returns its id and the user's row
# (none for a deactivated user: checked against the dummy hash, refused like an unknown name).
# At a limit, records nothing and says when the oldest counted failure leaves the window.
_RECORD_ATTEMPT = """
WITH by_pair AS (
    SELECT count(*) AS n, min(at) AS first FROM login_attempt
    WHERE username = $1 AND address = $2 AND NOT succeeded AND at > now() - $3::interval
), by_account AS (
    SELECT count(*) AS n, min(at) AS first FROM login_attempt
    WHERE username = $1 AND NOT succeeded AND at > now() - $3::interval
), by_address AS (
    SELECT count(*) AS n, min(at) AS first FROM login_attempt
    WHERE address = $2 AND NOT succeeded AND at > now() - $3::interval
), attempt AS (
    INSERT INTO login_attempt (username, address, succeeded)
    SELECT $1, $2, false FROM by_pair, by_account, by_address
    WHERE by_pair.n < $4 AND by_account.n < $7 AND by_address.n < $5
    RETURNING id
)
SELECT (SELECT id FROM attempt) AS attempt_id,
       greatest(1, ceil(extract(epoch FROM
           CASE WHEN by_pair.n >= $4 THEN by_pair.first WHEN by_account.n >= $7 THEN by_account.first
                ELSE by_address.first END + $3::interval - now()
       )))::int AS retry_after,
       u.id AS user_id, u.password_hash, u.role
FROM by_pair CROSS JOIN by_account CROSS JOIN by_address
LEFT JOIN app_user u ON u.username = $6 AND u.disabled_at IS NULL
"""


async def admit_attempt(
    conn: asyncpg.Connection, account: str, address: str, window: timedelta,
    max_per_pair: int, max_per_address: int, username: str | None, max_per_account: int,
) -> Admission:  # fmt: skip
    """Under advisory locks on the account and the address (concurrent attempts, in any process,
    count one after another), record an attempt unless a limit is reached: failures for this account
    from this address, for this account from anywhere, or from this address for any account."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2)), pg_advisory_xact_lock($3, hashtext($4))",
        ACCOUNT_LOCK_NAMESPACE, account, ADDRESS_LOCK_NAMESPACE, address,
    )  # fmt: skip
    # A statement of its own after the locks, so that its snapshot sees every attempt committed before.
    row = await conn.fetchrow(
        _RECORD_ATTEMPT, account, address, window, max_per_pair, max_per_address, username, max_per_account
    )
    return Admission(row["attempt_id"], row["retry_after"], row["user_id"], row["password_hash"], row["role"])


async def attempt_succeeded(conn: asyncpg.Connection, attempt_id: int) -> None:
    await conn.execute("UPDATE login_attempt SET succeeded = true WHERE id = $1", attempt_id)


# --- browser sessions ----------------------------------------------------------------------------


async def add_session(
    conn: asyncpg.Connection, token_hash: str, user_id: int, csrf_token: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO browser_session (token_hash, user_id, csrf_token, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash, user_id, csrf_token, expires_at,
    )  # fmt: skip


async def end_session(conn: asyncpg.Connection, token_hash: str) -> None:
    await conn.execute("DELETE FROM browser_session WHERE token_hash = $1", token_hash)


async def end_sessions_of(conn: asyncpg.Connection, user_id: int, keeping: str = "") -> None:
    """Every session of the user but the one whose hash is `keeping`."""
    await conn.execute("DELETE FROM browser_session WHERE user_id = $1 AND token_hash <> $2", user_id, keeping)


async def session_holder(conn: asyncpg.Connection, token_hash: str) -> Holder | None:
    row = await conn.fetchrow(
        """SELECT u.id, u.username, u.role, s.csrf_token, u.location
           FROM browser_session s JOIN app_user u ON u.id = s.user_id
           WHERE s.token_hash = $1 AND s.expires_at > now() AND u.disabled_at IS NULL""",
        token_hash,
    )
    return Holder(row["id"], row["username"], row["role"], row["csrf_token"], row["location"]) if row else None


# --- API tokens ----------------------------------------------------------------------------------


async def token_owner(conn: asyncpg.Connection, username: str) -> UserToChange | None:
    row = await conn.fetchrow("SELECT id, role, disabled_at FROM app_user WHERE username = $1", username)
    return UserToChange(row["id"], row["role"], row["disabled_at"]) if row else None


async def add_token(conn: asyncpg.Connection, user_id: int, token_hash: str, name: str) -> int:
    token_id: int = await conn.fetchval(
        "INSERT INTO api_token (user_id, token_hash, name) VALUES ($1, $2, $3) RETURNING id", user_id, token_hash, name
    )
    return token_id


async def revoke_token(conn: asyncpg.Connection, token_id: int) -> str | None:
    """The owner's name when the token was live (now revoked), else None."""
    owner: str | None = await conn.fetchval(
        """UPDATE api_token t SET revoked_at = now() FROM app_user u
           WHERE t.id = $1 AND t.revoked_at IS NULL AND u.id = t.user_id RETURNING u.username""",
        token_id,
    )
    return owner


async def revoke_tokens_of(conn: asyncpg.Connection, user_id: int) -> int:
    """How many live tokens of the user were revoked."""
    revoked: int = await conn.fetchval(
        """WITH r AS (UPDATE api_token SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL
           RETURNING 1) SELECT count(*) FROM r""",
        user_id,
    )
    return revoked


async def tokens(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT t.id, t.name, u.username, t.created_at, t.revoked_at FROM api_token t
           JOIN app_user u ON u.id = t.user_id ORDER BY t.created_at DESC"""
    )
    return [_listed(r, TOKEN_COLUMNS) for r in rows]


async def token_holder(conn: asyncpg.Connection, token_hash: str) -> Holder | None:
    row = await conn.fetchrow(
        """SELECT u.id, u.username, u.role, u.location FROM api_token t JOIN app_user u ON u.id = t.user_id
           WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL""",
        token_hash,
    )
    return Holder(row["id"], row["username"], row["role"], location=row["location"]) if row else None
