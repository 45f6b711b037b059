"""The database: its connection pool, units of work, and the one-connection-per-task rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from decimal import Decimal

import asyncpg

from app.settings import Settings

PRODUCT_LOCK_NAMESPACE = 0x5354  # "ST": pg_advisory_xact_lock(namespace, product id)


class DatabaseUnavailable(Exception):
    """No connection could be had in time, or it was lost before COMMIT: nothing was changed."""


class NoConnectionFree(DatabaseUnavailable):
    """Every pooled connection stayed busy for as long as a request may wait: the database is there,
    the server is too busy (told apart so that the 503 does not say the database is unreachable)."""


class OutcomeUnknown(DatabaseUnavailable):
    """The connection was lost while COMMIT was on its way: the change may or may not be saved.
    Never retried by the app itself; a client retrying with its Idempotency-Key learns which."""


# One rule for every path (it is what keeps the pool from deadlocking): take the product locks
# first, then one connection. A task holding a connection never waits for another one, except
# through `spare_connection`, which gives up after a short wait. Per task, whatever the pool.
_holding: ContextVar[bool] = ContextVar("holding_a_pooled_connection", default=False)
# What a lost connection raises. InternalClientError ("another operation is in progress") is what
# asyncpg raises when a pooled connection that the server has just terminated is used before
# asyncpg has noticed the close; the pool drops that connection on release.
CONNECTION_LOST = (OSError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError, asyncpg.InternalClientError,
                   asyncpg.ConnectionDoesNotExistError, asyncpg.OperatorInterventionError)  # fmt: skip
UNAVAILABLE = (DatabaseUnavailable, *CONNECTION_LOST)  # every way "no database now" is raised


def holding_a_connection() -> bool:
    """Whether the current task holds a pooled connection (product locks are never taken then)."""
    return _holding.get()


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """Read NUMERIC as text into Decimal: exact either way, and about twice as fast as
    asyncpg's binary decoding when a refold reads 100,000 rows."""
    await conn.set_type_codec("numeric", encoder=str, decoder=Decimal, schema="pg_catalog", format="text")


async def keep_session(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection handed back, after asyncpg's own rollback of a transaction
    left open: nothing more. asyncpg's default reset sends "SELECT pg_advisory_unlock_all(); CLOSE
    ALL; UNLISTEN *; RESET ALL" (one more round trip for every request that reads) to undo session
    state this app never makes on a pooled connection: its product locks are transaction locks
    (pg_advisory_xact_lock), its SETs are SET LOCAL, its cursors live inside transactions, and LISTEN
    and the migration lock have connections of their own (tests/integration/test_pool_sessions.py)."""


class Database:
    """One database and its connection pool: made once (the app factory, a CLI command), opened
    and closed around the work, and handed to whatever needs a connection."""

    def __init__(self, url: str, *, pool_size: int = 10, acquire_timeout: float = 10.0) -> None:
        self.url = url
        self.pool_size = pool_size
        self.acquire_timeout = acquire_timeout  # seconds a request waits for a connection before a 503
        self._pool: asyncpg.Pool | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, pool_size: int | None = None) -> Database:
        """The database the settings name. The URL is settled before (INVENTORY_DATABASE_URL, or the
        embedded server the CLI started): making a Database never starts a server."""
        if not settings.database_url:
            raise RuntimeError("no database URL: set INVENTORY_DATABASE_URL, or start the app with `inventory serve`")
        return cls(settings.database_url, pool_size=pool_size or settings.pool_size,
                   acquire_timeout=settings.pool_timeout)  # fmt: skip

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url, min_size=min(2, self.pool_size), max_size=self.pool_size, init=prepare_connection,
            reset=keep_session, server_settings={"application_name": "stockroom"},
        )  # fmt: skip

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def opened(self) -> AsyncIterator[Database]:
        """Open for the duration of a block (a CLI command): `async with Database(...).opened() as db`."""
        await self.open()
        try:
            yield self
        finally:
            await self.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the connection pool is not open (Database.open() runs in the app's lifespan)")
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if _holding.get():
            raise RuntimeError("a task holding a pooled connection asked for a second one (see database._holding)")
        pool = self.pool
        try:
            conn = await pool.acquire(timeout=self.acquire_timeout)
        except TimeoutError:
            raise NoConnectionFree("no database connection could be had in time") from None
        except CONNECTION_LOST as lost:
            raise DatabaseUnavailable(f"the database is not reachable ({lost})") from lost
        token = _holding.set(True)
        try:
            yield conn
        finally:
            _holding.reset(token)
            await pool.release(conn)

    @asynccontextmanager
    async def unit_of_work(self, *, commit: bool = True) -> AsyncIterator[asyncpg.Connection]:
        """One database transaction on one pooled connection; yields it for the repositories.
        A connection lost before COMMIT changed nothing (DatabaseUnavailable); one lost during COMMIT
        may have saved the change (OutcomeUnknown) — the two are answered differently. With
        `commit=False` (a dry run) the work runs in full and is rolled back at exit."""
        async with self._connection() as conn:
            transaction = conn.transaction()
            try:
                await transaction.start()
                yield conn
            except BaseException as failure:
                with suppress(*CONNECTION_LOST):
                    if not conn.is_closed():
                        await transaction.rollback()
                if isinstance(failure, CONNECTION_LOST):
                    raise DatabaseUnavailable(f"the database connection was lost ({failure})") from failure
                raise
            if not commit:
                try:
                    await transaction.rollback()
                except CONNECTION_LOST as lost:  # nothing was saved either way
                    raise DatabaseUnavailable(f"the database connection was lost ({lost})") from lost
                return
            try:
                await transaction.commit()
            except CONNECTION_LOST as lost:
                raise OutcomeUnknown(f"the database connection was lost during COMMIT ({lost})") from lost

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[asyncpg.Connection]:
        """A read-only transaction that sees one consistent state throughout (exports, the self-check)."""
        async with self._connection() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            yield conn

    @asynccontextmanager
    async def read_only(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection for reads outside any transaction."""
        async with self._connection() as conn:
            yield conn

    @asynccontextmanager
    async def spare_connection(self, wait: float = 0.1) -> AsyncIterator[asyncpg.Connection | None]:
        """A second pooled connection if one comes within `wait` seconds, else None. Callers that
        already hold a connection use this, so that a busy pool slows them down instead of
        leaving every holder waiting for another."""
        pool = self.pool
        try:
            conn = await pool.acquire(timeout=wait)
        except (TimeoutError, *CONNECTION_LOST):
            yield None
            return
        try:
            yield conn
        finally:
            # Without a timeout, release() budgets the reset with the 0.1 s the acquire waited:
            # on a busy machine that fails a sound edit as "connection lost".
            await pool.release(conn, timeout=self.acquire_timeout)

    async def ready(self, within: float = 1.0) -> bool:
        """Whether a connection can be had and answers within `within` seconds (for /readyz)."""
        try:
            async with asyncio.timeout(within):
                async with self.pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
            return True
        except (TimeoutError, *CONNECTION_LOST):
            return False
