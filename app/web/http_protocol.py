"""uvicorn's httptools protocol with a deadline on request headers.

uvicorn bounds idle keep-alive connections (`timeout_keep_alive`) but not a client that sends its
headers a byte at a time: 300 such connections were held for as long as they trickled. Here every
request's headers must be complete within `HEADER_SECONDS` of the connection opening or of the
request's first byte, or the connection is closed. Behind a reverse proxy the proxy does this too
(nginx `client_header_timeout`); see docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_SECONDS = float(os.environ.get("INVENTORY_HEADER_TIMEOUT", "10"))


class HeaderDeadlineProtocol(HttpToolsProtocol):
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_deadline()

    def on_headers_complete(self) -> None:
        self._stop_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_deadline()
        super().connection_lost(exc)

    def _start_header_deadline(self) -> None:
        self._stop_header_deadline()
        self._header_deadline = self.loop.call_later(HEADER_SECONDS, self._headers_too_slow)

    def _stop_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.cycle is None or self.cycle.response_complete:  # no request is being answered
            self.transport.close()
