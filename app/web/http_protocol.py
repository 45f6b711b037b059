"""uvicorn's httptools protocol with a deadline on request headers.

uvicorn bounds idle keep-alive connections (`timeout_keep_alive`) but not a client that sends its
headers a byte at a time: 300 such connections were held for as long as they trickled. Here every
request's headers must be complete within `header_seconds` (Settings.header_timeout,
INVENTORY_HEADER_TIMEOUT) of the connection opening or of the request's first byte, or the
connection is closed. `serve` hands uvicorn `with_header_deadline(seconds)`, a partial of the class:
it pickles by name into each worker process, as a class made on the fly would not. Behind a reverse
proxy the proxy does this too (nginx `client_header_timeout`); see docs/decisions.md.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HeaderDeadlineProtocol(HttpToolsProtocol):
    # One timer per connection, not one per request: a keep-alive connection's requests only note
    # when their headers began (or None once complete), and the timer, when it fires, closes the
    # connection or sets itself again for the request under way. A timer made and cancelled for
    # every request cost about 2 % of a hot sale's CPU.
    _header_deadline: asyncio.TimerHandle | None = None
    _headers_began: float | None = None  # the loop's time the current headers began; None: complete

    def __init__(self, *args: Any, header_seconds: float = 10.0, **kwargs: Any) -> None:
        self.header_seconds = header_seconds
        super().__init__(*args, **kwargs)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._headers_begin()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._headers_begin()

    def on_headers_complete(self) -> None:
        self._headers_began = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_began = None
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None
        super().connection_lost(exc)

    def _headers_begin(self) -> None:
        self._headers_began = self.loop.time()
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_at(self._headers_began + self.header_seconds, self._deadline)

    def _deadline(self) -> None:
        self._header_deadline = None
        began = self._headers_began
        if began is None:  # every request so far had its headers in time
            return
        due = began + self.header_seconds
        if self.loop.time() < due:  # a later request's headers: its own deadline
            self._header_deadline = self.loop.call_at(due, self._deadline)
        elif self.cycle is None or self.cycle.response_complete:  # no request is being answered
            self.transport.close()


def with_header_deadline(seconds: float) -> type[asyncio.Protocol]:
    """What `serve` gives uvicorn as its `http` protocol: uvicorn only calls it with its keyword
    arguments, so a partial stands in for a class (uvicorn's annotation asks for a type)."""
    return cast(type[asyncio.Protocol], partial(HeaderDeadlineProtocol, header_seconds=seconds))
