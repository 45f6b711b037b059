"""Writing a refold's new figures back while the next part of it is still being folded.

A quantity edit at the start of a long ledger refolds every later row. Folding is Python's
work and the UPDATE is PostgreSQL's, on the other core; sending each folded chunk's UPDATE
before folding the next one lets the two overlap (measured for 100,000 rows: see
docs/performance.md). At most one UPDATE is in flight, since a connection runs one
statement at a time, and the caller waits for it before using the connection again.

Writing before the whole refold is known to succeed needs a way back: the first early
write opens a savepoint, rolled back if the change is then rejected (a later row would go
negative, or the end would fall below what is reserved). A refold of one chunk, the usual
case, writes only at the end and needs none.

Each chunk's fold, and the pass over its rows that picks what to write, run in a worker thread
(off_the_loop.py): on the event loop, every other request's awaits waited for them (issue 12).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from types import TracebackType

import asyncpg
from asyncpg.transaction import Transaction

from app.domain.ledger import Posted, refold
from app.domain.refold_figures import fields_a_refold_can_change, money_moved, money_sums
from app.domain.summary import Totals
from app.persistence import ledger_rows
from app.services.off_the_loop import in_a_thread, threaded

# Rows from which picking what to write goes to a worker thread: 1,024 rows take 0.2 ms, about
# what the hop to the thread and back costs (0.1 ms); 16,384 take 7 ms.
IN_A_THREAD_FROM = 1024


class Writeback:
    """Writes refolded stored rows back and keeps the money they moved. Use as `async with`."""

    def __init__(self, conn: asyncpg.Connection, product_id: int, dropped_id: int | None, placing: frozenset[int]):
        self._conn, self._product_id, self._dropped_id = conn, product_id, dropped_id
        self._placing = placing  # seqs of the entries being placed: they are inserted or replaced, not updated
        self._in_flight: asyncio.Task[None] | None = None
        self._savepoint: Transaction | None = None
        self._sent = 0
        self.moved = Totals()

    async def send_early(self, posted: Sequence[Posted]) -> None:
        """Start writing a folded chunk; `wait()` before the connection's next statement."""
        if self._savepoint is None:
            self._savepoint = self._conn.transaction()
            await self._savepoint.start()
        self._sent += len(posted)
        self._in_flight = asyncio.ensure_future(self._write(posted))

    async def wait(self) -> None:
        task, self._in_flight = self._in_flight, None
        if task is not None:
            await task

    async def finish(self, posted: Sequence[Posted]) -> None:
        """Write what `send_early` has not, of the whole refold's `posted`, once it is accepted."""
        await self.wait()
        await self._write(posted[self._sent :])
        self._sent = len(posted)

    async def __aenter__(self) -> Writeback:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        failed = error is not None
        try:
            await self.wait()
        except BaseException:
            failed = True
            raise
        finally:
            if self._savepoint is not None:
                await (self._savepoint.rollback() if failed else self._savepoint.commit())

    async def _write(self, posted: Sequence[Posted]) -> None:
        if len(posted) < IN_A_THREAD_FROM:  # every sale passes here with its one row: no thread for it
            rows, fields, sums = _what_to_write(posted, self._placing)
        else:
            rows, fields, sums = await in_a_thread(_what_to_write, posted, self._placing)
        if not rows:
            return
        old = await ledger_rows.update_figures(self._conn, self._product_id, rows, fields, self._dropped_id)
        self.moved += money_moved(sums, old)


def _what_to_write(
    posted: Sequence[Posted], placing: frozenset[int]
) -> tuple[list[Posted], tuple[int, ...], dict[int, Decimal]]:
    """The stored rows among `posted`, the figures a refold can have changed in them, and the sums of
    their new money: a pass over each of up to 16,384 rows, so made in a worker thread."""
    rows = [p for p in posted if p.entry.seq not in placing]
    fields = fields_a_refold_can_change(p.entry.type for p in rows)
    return rows, fields, money_sums(rows, fields)


# `refold` itself, with its arguments as they are, folded in a worker thread (see off_the_loop.py): a
# whole chunk in one call, so a fold's running state never crosses a call.
fold_off_the_loop = threaded(refold)
