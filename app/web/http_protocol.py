"""uvicorn's httptools protocol with deadlines on slow clients.

uvicorn bounds idle keep-alive connections (`timeout_keep_alive`) but not a client that sends its
headers a byte at a time (300 such connections were held for as long as they trickled), nor one that
sends its headers and then stops sending the body it announced: its request waits for that body
forever, and counts against `INVENTORY_MAX_CONNECTIONS` meanwhile. Here
- every request's headers must be complete within `header_seconds` (Settings.header_timeout,
  INVENTORY_HEADER_TIMEOUT) of the connection opening or of the request's first byte;
- a body must keep coming: `body_seconds` (Settings.body_timeout, INVENTORY_BODY_TIMEOUT) at most
  between the headers and its first bytes, and between one part of it and the next, as nginx's
  `client_body_timeout` counts; while the app has not read what came (uvicorn stops reading past
  its buffer), the client is not the one waited for, and the clock starts again;
or the connection is closed. And an answer must keep going out: a client that takes none of it for
`send_seconds` (Settings.send_timeout, INVENTORY_SEND_TIMEOUT; nginx's `send_timeout`) while the
connection's write buffer is full is cut off (one that takes some, however slowly, is not), and at
a graceful shutdown one whose buffer stays full for SHUTDOWN_SEND_SECONDS: a CSV download nobody
reads would otherwise hold its spooled file and its export slot for as long as its client stayed
connected, and be cancelled with a traceback at shutdown. `serve` hands uvicorn
`with_client_deadlines(...)`, a partial of the class: it pickles by name into each worker process,
as a class made on the fly would not. Behind a
reverse proxy the proxy does this too; see docs/decisions.md.
"""

from __future__ import annotations

import asyncio
import fcntl
import struct
import termios
from functools import partial
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Within uvicorn's graceful shutdown (`timeout_graceful_shutdown`, 5 s in `serve`), after which it
# cancels what still runs, each with a traceback in the log.
SHUTDOWN_SEND_SECONDS = 2.0


class ClientDeadlineProtocol(HttpToolsProtocol):
    # One timer per connection, not one per request: a keep-alive connection's requests only note
    # since when the connection waits for its client (or None once the request has all come), and
    # the timer, when it fires, closes the connection or sets itself again for the wait under way. A
    # timer made and cancelled for every request cost about 2 % of a hot sale's CPU.
    _deadline: asyncio.TimerHandle | None = None
    _waiting_since: float | None = None  # the loop's time the wait for the client began; None: not waiting
    _waiting_for_body = False  # else for headers
    _send_deadline: asyncio.TimerHandle | None = None  # set while the write buffer is full
    _shutting_down = False
    _buffered = 0  # bytes unsent when the send deadline was last set

    def __init__(
        self, *args: Any, header_seconds: float = 10.0, body_seconds: float = 30.0, send_seconds: float = 60.0,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        self.header_seconds = header_seconds
        self.body_seconds = body_seconds
        self.send_seconds = send_seconds
        super().__init__(*args, **kwargs)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for(body=False)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._wait_for(body=False)

    def on_headers_complete(self) -> None:
        self._waiting_since = None
        super().on_headers_complete()
        if not (self.parser.should_upgrade() and self._should_upgrade()):  # a WebSocket is not ours to time
            self._wait_for(body=True)  # a request without a body completes at once (on_message_complete)

    def on_body(self, body: bytes) -> None:
        if self._waiting_for_body:
            self._waiting_since = self.loop.time()
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._waiting_since = None
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._waiting_since = None
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._stop_send_deadline()
        super().connection_lost(exc)

    def pause_writing(self) -> None:  # the transport's buffer is full: the client is not taking it
        super().pause_writing()
        if self._send_deadline is None:
            self._set_send_deadline()

    def resume_writing(self) -> None:
        self._stop_send_deadline()
        super().resume_writing()

    def shutdown(self) -> None:
        """uvicorn's (an idle connection closed, an answer under way let finish), and from now on an
        answer whose buffer stays full for SHUTDOWN_SEND_SECONDS is cut off."""
        self._shutting_down = True
        if self.flow.write_paused:
            self._stop_send_deadline()
            self._set_send_deadline()
        super().shutdown()

    def _set_send_deadline(self) -> None:
        self._buffered = self._unsent()
        seconds = SHUTDOWN_SEND_SECONDS if self._shutting_down else self.send_seconds
        self._send_deadline = self.loop.call_later(seconds, self._on_send_deadline)

    def _stop_send_deadline(self) -> None:
        if self._send_deadline is not None:
            self._send_deadline.cancel()
            self._send_deadline = None

    def _on_send_deadline(self) -> None:
        """Still full: cut off, unless the client took some of the buffer since (a slow link, as
        nginx's send_timeout counts from the last write) — then look again later. At a stop, cut."""
        self._send_deadline = None
        if not self.flow.write_paused:
            return
        if self._unsent() < self._buffered and not self._shutting_down:
            self._set_send_deadline()
        else:
            self._cut_off()

    def _unsent(self) -> int:
        """Bytes of answers the client has yet to take: the transport's buffer, and the kernel's send
        queue under it (that one drains first: with a large socket buffer the transport's could stay
        the same for seconds while the client reads)."""
        unsent = self.transport.get_write_buffer_size()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                unsent += struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
            except OSError:  # not a TCP socket on Linux: the transport's buffer alone
                pass
        return unsent

    def _cut_off(self) -> None:
        """abort(), not close(): close() would wait for the full buffer to go out, which it does not."""
        self._send_deadline = None
        self.transport.abort()  # connection_lost follows: the app's sends return, the answer's task ends

    def _seconds(self) -> float:
        return self.body_seconds if self._waiting_for_body else self.header_seconds

    def _wait_for(self, *, body: bool) -> None:
        self._waiting_since, self._waiting_for_body = self.loop.time(), body
        if self._deadline is None:
            self._deadline = self.loop.call_at(self._waiting_since + self._seconds(), self._on_deadline)

    def _on_deadline(self) -> None:
        self._deadline = None
        since = self._waiting_since
        if since is None:  # everything the client announced so far came in time
            return
        now = self.loop.time()
        if self._waiting_for_body and self.flow.read_paused:  # the app has yet to read what came
            since = self._waiting_since = now
        due = since + self._seconds()
        if now < due:  # a later wait than the one this timer was set for
            self._deadline = self.loop.call_at(due, self._on_deadline)
        elif self._waiting_for_body or self.cycle is None or self.cycle.response_complete:
            self.transport.close()
        else:  # headers coming while an earlier request is answered: that answer is not cut; look again
            self._deadline = self.loop.call_at(now + self.header_seconds, self._on_deadline)


def with_client_deadlines(header_seconds: float, body_seconds: float, send_seconds: float) -> type[asyncio.Protocol]:
    """What `serve` gives uvicorn as its `http` protocol: uvicorn only calls it with its keyword
    arguments, so a partial stands in for a class (uvicorn's annotation asks for a type)."""
    return cast(
        type[asyncio.Protocol],
        partial(
            ClientDeadlineProtocol, header_seconds=header_seconds, body_seconds=body_seconds, send_seconds=send_seconds
        ),
    )
