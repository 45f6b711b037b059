"""The CSV export of transactions: PostgreSQL writes it (COPY) into a spool, the client reads it from there.

The spool decouples the database from the client. Streamed straight from the COPY, each download held
a pooled connection for as long as its client took to read it: 24 downloads whose clients did not
read took the whole pool, and every sale waited 10 s for a 503 (issue 12's adversarial trial). And a
download given up halfway cancelled its COPY in the middle, which left the connection broken in the
pool: the next requests on it failed with 503s ("another operation is in progress"). Now the COPY
runs to its end at the database's pace, into memory up to SPOOL_IN_MEMORY and a temporary file
beyond; its connection goes back to the pool at once; and the client is sent the file at its own
pace. At most COPIES_AT_ONCE exports run their COPY at a time in a process, so that exports never
take more of the pool than that. A COPY that still ends early (the client gave up while it ran)
closes its connection instead of returning it half-way through (`csv_repo.export_csv_copy`).
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import IO

from app.persistence import catalogue_csv as csv_repo
from app.persistence.database import Database, DatabaseUnavailable
from app.services.turns import Turns

SPOOL_IN_MEMORY = 1 << 20  # bytes of an export kept in memory; past this it goes to a temporary file
PIECE = 1 << 16  # bytes sent to the client at a time
COPIES_AT_ONCE = 2  # per process; the pool has INVENTORY_POOL_SIZE (10) connections
# Exports spooled and not yet sent whole, per process: each holds its file (about 170 bytes a row)
# for as long as its client takes to read it, and a client that never reads keeps it while it stays
# connected. The cap bounds that disk (an adversarial trial left 97 stalled downloads, 2 GB of /tmp).
OPEN_AT_MOST = 16


class TooManyDownloads(DatabaseUnavailable):
    """Every export slot of this process is taken by a download still being sent: a 503, try again."""

    detail = (f"Too many downloads are being sent now (at most {OPEN_AT_MOST} at a time); nothing was "
              "changed. Try again in a few seconds.")  # fmt: skip


_open = 0  # exports spooled and not yet closed, in this process

_copy_turn = Turns(COPIES_AT_ONCE)


class SpooledExport:
    """An export whose COPY has ended: its bytes (rows ended \\r\\n) wait in the spool for the client.
    `pieces()` sends them and closes the spool at the end, or when the client leaves."""

    def __init__(self, spool: IO[bytes], size: int) -> None:
        self._spool = spool
        self.size = size  # bytes: the download's Content-Length, so that a file cut short shows it
        # Closed when sent, when its client leaves, or (a response never started) when dropped.
        self.close = weakref.finalize(self, _close, spool)

    async def pieces(self) -> AsyncIterator[bytes]:
        try:
            self._spool.seek(0)
            while piece := self._spool.read(PIECE):
                yield piece
        finally:
            self.close()


async def spool_export(
    db: Database, sku: str | None, start: datetime | None, end: datetime | None, location: str | None = None
) -> SpooledExport:
    """Rows in per-product timeline order, as one statement's snapshot; `location`: only rows there (a
    TRANSFER at either end); the caller checks it names one. The COPY runs to its end before this
    returns, so that a database that fails it fails the request (a 503), not a 200 cut short."""
    global _open
    if _open >= OPEN_AT_MOST:
        raise TooManyDownloads
    _open += 1
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - SpooledExport closes it
    try:
        async with _copy_turn(), db.read_only() as conn:
            await csv_repo.export_csv_copy(conn, sku, start, end, _into(spool, _LineEnds()), location)
        return SpooledExport(spool, spool.tell())
    except BaseException:
        _close(spool)
        raise


def _close(spool: IO[bytes]) -> None:
    global _open
    spool.close()
    _open -= 1


def _into(spool: IO[bytes], ends: _LineEnds) -> Callable[[bytes], Awaitable[None]]:
    async def write(piece: bytes) -> None:
        spool.write(ends.crlf(piece))  # memory, or the page cache: never waits for the disk

    return write


class _LineEnds:
    """COPY ends a row with \\n; the export has always ended them \\r\\n (csv.writer's, RFC 4180). A \\n
    inside a quoted cell (a note) stays as it is: a row ends where the quotes seen so far are even."""

    def __init__(self) -> None:
        self.quotes = 0  # in the current row so far

    def crlf(self, piece: bytes) -> bytes:
        lines = piece.split(b"\n")
        out = []
        for line in lines[:-1]:
            self.quotes += line.count(b'"')
            out.append(line + (b"\r\n" if self.quotes % 2 == 0 else b"\n"))
            if self.quotes % 2 == 0:
                self.quotes = 0
        self.quotes += lines[-1].count(b'"')
        out.append(lines[-1])
        return b"".join(out)
