"""CSV import (the export is csv_export.py): every row checked first, then imported in parts of at most
PART_PRODUCTS products, one transaction each (docs/decisions.md, "Imports in parts")."""

from __future__ import annotations

import asyncio
import csv
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta

import asyncpg

from app.domain.access import ClosedPeriod, refuse_outside
from app.domain.errors import Conflict, InvalidFile, InvalidInput, LineError
from app.domain.immutable import immutable
from app.domain.ledger import Entry
from app.domain.rules import MAIN
from app.intake.csv_format import EPOCH, REQUIRED_COLUMNS, CheckedFile, RowReader
from app.persistence import catalogue_csv as csv_repo
from app.persistence import ledger_rows
from app.persistence import locations as location_repo
from app.persistence import products as product_repo
from app.persistence.database import CONNECTION_LOST, DatabaseUnavailable
from app.services import idempotency
from app.services.events import announce
from app.services.gc_pause import gc_paused
from app.services.idempotency import Key
from app.services.ledger import LedgerService, release_lapsed_holds
from app.services.locks import lock_in_database

# --- import ------------------------------------------------------------------------------------

# One transaction per part: its products' advisory locks stay well inside PostgreSQL's lock table
# (64 × max_connections entries by default; one transaction locking 20,000 products ran out of it),
# and a sale of a product of the part waits for one part, not for the whole file.
PART_PRODUCTS = 1_000
PART_ROWS = 50_000  # a part also ends before this many rows, unless one product has more
TURN_ROWS = 500  # rows checked or folded between turns of the event loop (other requests go on)
EXTERNAL_ID_INDEX = "stock_transaction_external_id_idx"


@immutable
class ImportResult:
    imported: int
    skipped: int  # rows whose external id was imported before
    products_created: int

    def view(self) -> dict[str, int]:
        return {"imported": self.imported, "skipped": self.skipped, "products_created": self.products_created}

    def __add__(self, other: ImportResult) -> ImportResult:
        return ImportResult(self.imported + other.imported, self.skipped + other.skipped,
                            self.products_created + other.products_created)  # fmt: skip


NOTHING_IMPORTED = ImportResult(0, 0, 0)


@immutable
class ImportProgress:
    """Reported after each committed part."""

    rows_done: int  # transaction rows handled (imported or skipped)
    rows: int  # transaction rows in the file
    products_done: int
    products: int
    sku: str  # the last product of the part


Progress = Callable[[ImportProgress], None]
Checked = Callable[[int], None]  # rows checked so far, every TURN_ROWS rows


async def read_rows(lines: Iterable[str], ledger: LedgerService, checked: Checked | None = None) -> CheckedFile:
    """Parse and check every row, reading `lines` as it goes (an open file is never held whole), with
    no database. What is wrong with a row is kept in the file (`refused`): import_rows refuses the
    file, before anything is imported, naming every bad line in one InvalidFile, with what only the
    database can tell (issue 15's trial: unknown locations showed only once every other row was
    fixed). A file that cannot be read on (no header, not CSV) is an InvalidFile here. Line numbers
    count the rows a csv.DictReader yields, as they always have: blank lines are skipped and not counted."""
    reader = csv.reader(lines)
    file = CheckedFile()
    errors = file.refused  # appended to, never replaced
    seen: set[str] = set()
    twice: set[str] = set()
    barcodes: dict[str, tuple[str, int]] = {}
    line = 0  # the last line read well
    try:
        header = next(reader, None)
        missing = [c for c in REQUIRED_COLUMNS if c not in (header or [])]
        line = 1
        if missing or header is None:
            raise InvalidFile([LineError(1, c, "column is missing from the header") for c in missing])
        if repeated := sorted({c for c in header if c and header.count(c) > 1}):  # which cell would be meant?
            raise InvalidFile([LineError(1, c, "column appears more than once in the header") for c in repeated])
        parse = RowReader(header, now=ledger.clock(), zone=ledger.zone)
        with gc_paused():  # a million rows make millions of short-lived objects, none in cycles
            for cells in reader:
                if not cells:
                    continue
                line += 1
                if (line - 1) % TURN_ROWS == 0:
                    await asyncio.sleep(0)
                    if checked:
                        checked(line - 1)
                if (fast := parse.fast_row(cells)) is not None:
                    (twice if fast.external_id in seen else seen).add(fast.external_id)
                    file.add_fast(line, fast)
                    continue
                try:
                    row = parse.slow(line, cells)
                except InvalidInput as bad:
                    file.refuse(line, parse.mapping(cells), bad)
                    continue
                if (code := row.product.barcode if row.product else None) is not None:
                    sku, first = barcodes.setdefault(code.zfill(14), (row.sku, line))
                    if sku != row.sku:
                        also = f"{code} is also the barcode of {sku} on line {first}"
                        errors.append(LineError(line, "barcode", also))
                if row.external_id is not None:
                    (twice if row.external_id in seen else seen).add(row.external_id)
                file.add(row)
    except csv.Error as unreadable:  # e.g. a cell past the csv module's 128 kB limit, in the row after `line`
        cut = LineError(line + 1, "file", f"cannot be read as CSV here ({unreadable})")
        raise InvalidFile([*sorted(errors, key=lambda e: e.line), cut]) from None  # with the bad rows before it
    file.lines = line - 1
    del seen
    if twice:
        errors += [LineError(file.line[i], "external_id", f"{external_id!r} appears more than once in the file")
                   for i, external_id in enumerate(file.external_id) if external_id in twice]  # fmt: skip
    return file


async def import_rows(
    file: CheckedFile, ledger: LedgerService, progress: Progress | None = None, key: Key | None = None,
    *, within: str | None = None,
) -> ImportResult:  # fmt: skip
    """Import a checked file in parts (products in the order the file first names them), one
    transaction each, under the part's product locks. What the file as a whole must satisfy is
    checked before the first part: new products named, their barcodes free, no row in the closed
    period. A row a part cannot take (it would oversell, or the books were closed meanwhile) stops
    the import: the parts that committed stay (those before it and, two running at a time, perhaps
    the one after it), the Conflict says what they hold, and the same file imported again skips
    what is in and finishes the job. The idempotency key is claimed, and the answer stored, in the
    last part's transaction. `within`: the location the importing user is limited to.

    First, every bad row of the file in one InvalidFile, in line order, whatever is wrong with it:
    its cells (read_rows kept them), a new product no row names, a location no one has, a TRANSFER to
    where it starts."""
    async with ledger.db.read_only() as conn:
        ids = await csv_repo.product_ids(conn, file.skus)
        errors = [*file.refused, *_unnamed_products(file, ids), *await _location_errors(conn, file, ids)]
        if errors:
            raise InvalidFile(sorted(errors, key=lambda e: e.line))  # stable: a line's cell errors first
        _refuse_rows_elsewhere(file, within)
        await _refuse_taken_barcodes(conn, file, ids)
        closed = await ledger.closed_period(conn)
    _refuse_closed(file, closed)  # every dated line named at once; each part checks again under its locks
    parts = _parts(file)
    *leading, last = parts
    flow = _Flow(file, progress)
    try:
        # Two parts at a time, so that one part's folding (Python) overlaps the other's writing
        # (PostgreSQL): each has its own transaction and connection, takes its locks before its
        # connection and never waits for the other. The last part, which stores the key, runs
        # alone once every other part is in, so that a stored answer never hides a failed part.
        for part in leading:
            if len(flow.running) == IN_FLIGHT:
                await flow.settle_first()
            if flow.failure:
                break
            flow.running.append(asyncio.ensure_future(_import_part(file, part, ids, ledger)))
        while flow.running:
            await flow.settle_first()
        if not flow.failure:
            flow.running.append(asyncio.ensure_future(_import_part(file, last, ids, ledger, key, flow.done)))
            await flow.settle_first()
    except (DatabaseUnavailable, *CONNECTION_LOST) as lost:
        await asyncio.gather(*flow.running, return_exceptions=True)
        raise ImportInterrupted(flow.done) from lost
    finally:
        await asyncio.gather(*flow.running, return_exceptions=True)  # only after an unexpected error
    if flow.failure:
        raise _stopped(flow.failure, flow.done)
    return flow.done


def _refuse_rows_elsewhere(file: CheckedFile, within: str | None) -> None:
    """A user limited to one location imports only rows that name it (a row naming none would go to
    its product's default location), and so no TRANSFER, which always touches a second location:
    LocationRefused (403) naming the first line that does not, before anything is imported."""
    if within is None:
        return
    for i in range(len(file.line)):
        row = file.row(i)
        where = (row.location or "its product's default location", row.to_location)
        refuse_outside(within, where, f"Line {row.line}: a {row.type.value}")


class ImportInterrupted(DatabaseUnavailable):
    """The database went away during an import (a 503): what the parts before committed stays."""

    def __init__(self, done: ImportResult) -> None:
        self.done = done
        self.detail = (
            "The database could not be reached during the import"
            + (f"; parts of it are in ({done.imported:,} rows imported, {done.products_created:,} products created,"
               " and the part being written may be too)" if done.imported or done.products_created else "")
            + ". Import the same file again when it is back: the rows already in are skipped."
        )  # fmt: skip
        super().__init__(self.detail)


IN_FLIGHT = 2


class _Flow:
    """The parts in flight, in file order, and what the settled ones committed."""

    def __init__(self, file: CheckedFile, progress: Progress | None) -> None:
        self.file, self.progress = file, progress
        self.running: deque[asyncio.Future[tuple[list[int], ImportResult]]] = deque()
        self.done = NOTHING_IMPORTED
        self.products_done = 0
        self.failure: Conflict | None = None

    async def settle_first(self) -> None:
        try:
            part, result = await self.running.popleft()
        except Conflict as refused:
            self.failure = self.failure or refused  # the first in file order
            return
        except asyncpg.DeadlockDetectedError:  # another import writing the same external ids for other products
            met = Conflict("This part of the import met another import writing rows with the same external ids")
            self.failure = self.failure or met
            return
        self.done += result
        self.products_done += len(part)
        if self.progress and part:
            file = self.file
            self.progress(ImportProgress(self.done.imported + self.done.skipped, file.transactions,
                                         self.products_done, len(file.skus), file.skus[part[-1]]))  # fmt: skip


def _parts(file: CheckedFile) -> list[list[int]]:
    """Products (by number) in parts of at most PART_PRODUCTS products and, unless one product has
    more, PART_ROWS rows. Always at least one part: the last one stores the idempotency key."""
    parts: list[list[int]] = [[]]
    rows = 0
    for number, of_product in enumerate(file.rows_of):
        part = parts[-1]
        if part and (len(part) == PART_PRODUCTS or rows + len(of_product) > PART_ROWS):
            parts.append(part := [])
            rows = 0
        part.append(number)
        rows += len(of_product)
    return parts


async def _import_part(
    file: CheckedFile, part: list[int], ids: dict[str, int], ledger: LedgerService, key: Key | None = None,
    before: ImportResult = NOTHING_IMPORTED,
) -> tuple[list[int], ImportResult]:  # fmt: skip
    """One part in one transaction, under its products' locks. With a key, the answer stored is
    `before` (what the other parts committed) and this part."""
    existing = [ids[file.skus[n]] for n in part if file.skus[n] in ids]
    with gc_paused():  # as a refold: the part's rows make many short-lived tuples, none in cycles
        async with ledger.locks.hold(*existing), ledger.db.unit_of_work() as conn:
            result, new_ids = await _write_part(conn, file, part, ids, ledger, key)
            await idempotency.keep(conn, key, before + result)
    ids.update(new_ids)  # only once committed
    return part, result


async def _write_part(
    conn: asyncpg.Connection, file: CheckedFile, part: list[int], ids: dict[str, int], ledger: LedgerService,
    key: Key | None = None,
) -> tuple[ImportResult, dict[str, int]]:  # fmt: skip
    """Create the part's new products, lock all of them, skip rows already stored, place each
    product's rows (`rewrite`: an append reads nothing, a backdated row refolds what follows it),
    then one COPY of every new row and one update of every product. Returns what it did and the
    ids of the products it found or made."""
    skus = file.skus
    created, appeared = await _create_products(conn, file, [n for n in part if skus[n] not in ids])
    found = ids | created | appeared
    product_ids = {n: found[skus[n]] for n in part}
    await lock_in_database(conn, *product_ids.values())
    await idempotency.claim_or_repeat(conn, key)
    in_part = [i for n in part for i in file.rows_of[n]]
    known = await csv_repo.stored_external_ids(conn, [file.external_id[i] for i in in_part])
    products = await product_repo.by_ids(conn, list(product_ids.values()))
    await release_lapsed_holds(conn, *products.values())
    closed = await ledger.closed_period(conn)
    fresh = {n: [i for i in file.rows(n) if file.external_id[i] not in known] for n in part}
    count = sum(map(len, fresh.values()))
    seqs = iter(sorted(await ledger_rows.next_seqs(conn, count))) if count else iter([])
    new_rows: list[ledger_rows.NewRow] = []
    turn = TURN_ROWS
    for n in part:
        if not fresh[n]:
            continue
        product_id = product_ids[n]
        of_seq = {next(seqs): i for i in fresh[n]}  # seqs ascend in timeline order: equal times keep file order
        home = products[product_id].default_location
        entries = [file.entry(i, seq, home) for seq, i in of_seq.items()]
        try:
            _refuse_transfers_in_place(entries)
            rw = await ledger.rewrite(conn, products[product_id], drop=None, places=entries, closed=closed)
        except Conflict as conflict:
            raise _naming_line(conflict, file, of_seq, entries) from None
        products[product_id] = rw.product
        new_rows += [(product_id, p, file.note[i], file.external_id[i])
                     for p in rw.placed for i in (of_seq[p.entry.seq],)]  # fmt: skip
        if len(new_rows) >= turn:
            turn = len(new_rows) + TURN_ROWS
            await asyncio.sleep(0)
    try:
        await ledger_rows.copy_rows(conn, new_rows)
    except asyncpg.UniqueViolationError as clash:
        if clash.constraint_name != EXTERNAL_ID_INDEX:
            raise
        raise Conflict(
            "A row of the file was imported meanwhile by another request (its external id is "
            "stored now); import the file again to finish",
            {"field": "external_id"},
        ) from None
    written = sorted({row[0] for row in new_rows})
    await product_repo.save_all_figures(conn, [products[i] for i in written])
    await announce(conn, sorted(set(written) | set(created.values())))
    return ImportResult(len(new_rows), len(in_part) - len(new_rows), len(created)), created | appeared


def _refuse_transfers_in_place(entries: list[Entry]) -> None:
    """A TRANSFER from the product's default to itself: checked for the whole file before the first
    part; met here only when the product's default location changed meanwhile."""
    for e in entries:
        if e.to_location == e.location:
            raise Conflict(f"A TRANSFER would move stock from {e.location} to itself (the product's default "
                           "location changed during the import)", {"field": "to_location", "seq": e.seq})  # fmt: skip


def _naming_line(conflict: Conflict, file: CheckedFile, of_seq: dict[int, int], entries: list[Entry]) -> Conflict:
    """The refusal with the file line of the row it names. Otherwise no row of the file is the one
    refused, and no single row is the cause, so it names the last line of the file among the
    product's rows that moved the stock in question, and says so:
    - on hand below what is reserved (at a location, or in total) is about where the product ends
      up: its rows at that location (any of its rows, for the total);
    - a stored row that would oversell: the file's rows before it in the timeline, at its location."""
    breaking = of_seq.get(conflict.extra.get("seq", -1))
    if breaking is not None:
        return Conflict(conflict.detail, {**conflict.extra, "line": file.line[breaking]})
    code, sku = conflict.extra.get("location"), conflict.extra.get("sku", "the product")
    at = [e for e in entries if code is None or code in (e.location, e.to_location)]
    rows: list[Entry] = []
    said = "{}"
    if "reserved" in conflict.extra:
        rows, said = at or entries, f", once the file's rows for {sku} are in ({{}})"
    elif conflict.extra.get("transaction_id") is not None and "at" in conflict.extra:
        point = (datetime.fromisoformat(conflict.extra["at"]), conflict.extra["seq"])
        rows = [e for e in at if (e.at, e.seq) < point]
        said = " (a row stored already; the file's rows before it took the stock: {})"
    if not rows:
        return Conflict(conflict.detail, {**conflict.extra, "line": None})
    line = max(file.line[of_seq[e.seq]] for e in rows)
    last = f"the last of them at {code}" if code is not None else "its last"
    detail = conflict.detail.removesuffix(" Nothing was changed.").rstrip(".")
    detail += said.format(f"line {line} is {last} in the file") + ". Nothing was changed."
    return Conflict(detail, {**conflict.extra, "line": line})


def _stopped(refused: Conflict, done: ImportResult) -> Conflict:
    """A part's refusal, saying what the parts before it committed."""
    line = refused.extra.get("line")
    detail = refused.detail.removesuffix(" Nothing was changed.").rstrip(".")
    detail += f" (file line {line})." if line and f"line {line} " not in detail else "."
    if done.imported or done.products_created:
        detail += (
            f" The import commits in parts of up to {PART_PRODUCTS:,} products; nothing of this one was imported,"
            f" and the other parts that committed are in: {done.imported:,} rows imported,"
            f" {done.products_created:,} products created"
            f"{f', {done.skipped:,} rows skipped as imported before' if done.skipped else ''}."
            " Correct the file and import it again: the rows already in are skipped."
        )
    else:
        detail += " Nothing was imported."
    return Conflict(detail, {**refused.extra, "line": line, "imported": done.view()})


def _refuse_closed(file: CheckedFile, closed: ClosedPeriod) -> None:
    if closed.through is None:
        return
    # Two days past the period's last day in UTC is past its end in any time zone: only rows before it can be in it.
    bound = (datetime.combine(closed.through, time(), UTC) + timedelta(days=2) - EPOCH) // timedelta(microseconds=1)
    dated = [i for i, at in enumerate(file.at) if at < bound and closed.covers(file.row(i).at)]
    if dated:
        lines = sorted(file.line[i] for i in dated)
        raise Conflict(
            f"The books are closed through {closed.through}: {len(dated)} row(s) are dated in that period, "
            f"first on line {lines[0]}; nothing was imported",
            {"books_closed_through": str(closed.through), "lines": lines[:100]},
        )


async def _location_errors(conn: asyncpg.Connection, file: CheckedFile, ids: dict[str, int]) -> list[LineError]:
    """Every location the file names exists (locations are never deleted), and no TRANSFER goes to
    where it starts: a row naming no location starts at its product's default (the file's, for a
    product it creates). The codes named by rows refused for their own errors are checked as well.
    An error for each line and field."""
    new_homes = {n: (line, x.default_location) for n, (line, x) in file.named.items() if file.skus[n] not in ids}
    loose = file.refused_codes
    if len(file.codes) == 1 and not loose and all(home == MAIN for _, home in new_homes.values()):
        return []  # a file of one location, as every file before locations
    known = {x.code for x in await location_repo.all_locations(conn)}
    errors = [LineError(line, "default_location", f"no location {home!r}")
              for line, home in new_homes.values() if home not in known]  # fmt: skip
    errors += [
        LineError(line, field, f"no location {code!r}")
        for line, field, code, sku in loose
        if code not in known and (field != "default_location" or sku not in ids)
    ]  # as new_homes: new products
    unknown = {n for n, code in enumerate(file.codes) if code is not None and code not in known}
    if unknown:
        for i, (at, to) in enumerate(zip(file.location, file.to_location, strict=True)):
            if at in unknown:
                errors.append(LineError(file.line[i], "location", f"no location {file.codes[at]!r}"))
            if to in unknown:
                errors.append(LineError(file.line[i], "to_location", f"no location {file.codes[to]!r}"))
    if transfers := file.transfers_from_home():
        stored = await csv_repo.default_locations(conn, [sku for sku in file.skus if sku in ids])
        for n, i in transfers:
            home = new_homes[n][1] if n in new_homes else stored.get(file.skus[n], MAIN)
            if file.codes[file.to_location[i]] == home:
                message = f"must differ from location ({home}, the product's default location)"
                errors.append(LineError(file.line[i], "to_location", message))
    return errors


def _unnamed_products(file: CheckedFile, existing: dict[str, int]) -> list[LineError]:
    """New products no row names (but a row refused for its own errors, which says so)."""
    return [LineError(file.first_line[n], "product_name", f"is required: there is no product {sku!r} yet")
            for n, sku in enumerate(file.skus)
            if sku not in existing and n not in file.named and sku not in file.refused_skus]  # fmt: skip


async def _create_products(
    conn: asyncpg.Connection, file: CheckedFile, numbers: list[int]
) -> tuple[dict[str, int], dict[str, int]]:
    """The part's new products, in SKU order (two imports creating the same products wait for each
    other instead of deadlocking): the ids of those it created, and of those another request
    created meanwhile (taken as they are)."""
    if not numbers:
        return {}, {}
    p = sorted((file.named[n][1] for n in numbers), key=lambda x: x.sku)
    try:
        created = await csv_repo.add_products(conn, p)
    except csv_repo.BarcodeTaken:
        raise Conflict("A barcode in the file was given to another product meanwhile; nothing of this part "
                       "was imported", {"field": "barcode"}) from None  # fmt: skip
    if len(created) == len(p):
        return created, {}
    # Made by another request since the import looked (ON CONFLICT waited for it to commit): not ours to count.
    return created, await csv_repo.product_ids(conn, [x.sku for x in p if x.sku not in created])


async def _refuse_taken_barcodes(conn: asyncpg.Connection, file: CheckedFile, existing: dict[str, int]) -> None:
    """A 409 naming the first new product whose barcode an existing product has."""
    wanted = {x.barcode.zfill(14): (line, x) for n, (line, x) in file.named.items()
              if x.barcode and file.skus[n] not in existing}  # fmt: skip
    if not wanted:
        return
    taken = await csv_repo.gtin_owners(conn, list(wanted))
    if taken:
        gtin = min(taken, key=lambda g: wanted[g][0])
        line, product = wanted[gtin]
        raise Conflict(
            f"Barcode {product.barcode} (line {line}, new product {product.sku}) already belongs to product "
            f"{taken[gtin]}; nothing was imported",
            {"field": "barcode", "line": line, "barcode": product.barcode, "sku": taken[gtin]},
        )
