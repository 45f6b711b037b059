"""Long-lived answers (an SSE stream, a GraphQL subscription) end once the credentials they were opened
with stop being valid: user deactivated, token revoked, session ended, password changed.

A request is authenticated once; a stream outlives that check. So the stream keeps what it was opened
with and asks again before each event it sends and every few seconds without one. Asking is cheap:
a token goes through the accounts' token cache (a database read at most every TOKEN_CACHE_SECONDS per
token), and a session (not cached) is read again only when some account change has been announced
(NOTIFY, counted by `AccountService.account_changes`) or after SESSION_RECHECK_SECONDS (its expiry)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Literal, TypeVar

from app.services.accounts import AccountService

CHECK_EVERY_SECONDS = 2.0  # how soon an idle stream notices
SESSION_RECHECK_SECONDS = 30.0  # a session is read again at least this often (it may have expired)
T = TypeVar("T")


class LiveCredentials:
    """The token or session id a stream was opened with, and whether it still admits its holder."""

    def __init__(self, accounts: AccountService, sent: Literal["token", "session"] | None, secret: str) -> None:
        self.accounts, self.sent, self.secret = accounts, sent, secret
        self.lapsed = False  # found no longer valid (it never becomes valid again: a new login is a new id)
        self._seen_changes = accounts.account_changes
        self._session_checked = time.monotonic()

    async def valid(self) -> bool:
        if not self.lapsed:
            self.lapsed = not await self._still_admits()
        return not self.lapsed

    async def _still_admits(self) -> bool:
        if self.sent == "token":
            return await self.accounts.token_identity(self.secret) is not None
        if self.sent == "session":
            changes = self.accounts.account_changes
            if changes == self._seen_changes and time.monotonic() - self._session_checked < SESSION_RECHECK_SECONDS:
                return True
            self._seen_changes, self._session_checked = changes, time.monotonic()
            return await self.accounts.session_identity(self.secret) is not None
        return False


async def while_valid(
    events: AsyncIterator[T], credentials: LiveCredentials, every: float = CHECK_EVERY_SECONDS
) -> AsyncIterator[T]:
    """`events` while `credentials` stay valid: checked before each is passed on and every `every`
    seconds between; the source is closed when they stop being valid (or the consumer stops)."""
    pending: asyncio.Task[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not await credentials.valid():
                return
            if done:
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    return
                pending = None
                yield event
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        with contextlib.suppress(RuntimeError):
            await events.aclose()  # type: ignore[attr-defined]
