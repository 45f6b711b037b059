"""Stock locations (issue 15): what locations cost, each beside the one-location figure of the same run.

    python -m bench.locations [--edits 5] [--seconds 10] [--connections 1000] [--rounds 5]
    python -m bench.locations --only edit|sells|migration

1. A backdated quantity edit of the first row of a 100,000-row product whose rows are spread over
   5 locations (a BUY at MAIN, transfers to the other four, then at each location in turn cycles of
   a BUY of 100 and SELLs of 10, and every 500th row a TRANSFER to the next location), beside the
   same edit of the same ledger in one location; edits alternate between the two products.
   Target: <= 1.3x. The same ledger over 20 locations too, in the same alternation: the cost should
   grow with the rows after the edited point, not with locations x rows.
2. Hot-product committed sells/s (wrk, as bench/sells.py): sales at a non-MAIN location of a
   product whose stock is spread over 5 locations, beside sales of a one-location product naming
   none; rounds alternate (and which goes first), and the medians are compared. Target: within 10 %.
   Then zero oversell at a location: 1,000 at STORE (10,000,000 at MAIN), every client selling there.
3. The locations migration on the 1,000,000-row ledger of bench/history.py (BIG-1M and BIG-100K,
   1,100,000 rows, loaded by COPY) made with the migrations before it: the time of the migration
   alone, and whether it rewrote the ledger (the table's file node and size before and after).

Histories are generated with the domain fold and loaded with COPY; every timing of 1 and 2 goes
through the running app over HTTP. Prints one line per measurement, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import asyncpg
import httpx

from app.domain.ledger import Entry, Replay, replay
from app.domain.rules import MAIN, TxType
from app.domain.summary import totals_of
from bench.common import serving, throwaway_database
from bench.history import prepare as prepare_history

FIVE = (MAIN, "STORE", "BACK", "WH", "SHOP2")
TWENTY = (*FIVE, *(f"L{n:02d}" for n in range(5, 20)))
EDITED = {"EDIT-1L": (MAIN,), "EDIT-5L": FIVE, "EDIT-20L": TWENTY}  # product: the locations its rows use
BEFORE_LOCATIONS = "2026-11-30T12:00:00:000000"  # the last migration before the locations one
LOCATIONS_MIGRATION = "2026-11-30T14:00:00:000000"
COPY_COLUMNS = ["product", "seq", "type", "quantity", "unit_price", "at", "stock_after", "average_cost_after",
                "revenue", "cogs", "realized_pl", "write_off", "gain", "location", "to_location",
                "location_stock_after", "to_location_stock_after"]  # fmt: skip

SELL_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local body = '{"sku":"' .. os.getenv("HOT_SKU") .. '","type":"SELL","quantity":1,"unit_price":"9.99"' ..
  (os.getenv("LOCATION") ~= "" and (',"location":"' .. os.getenv("LOCATION") .. '"') or "") .. '}'
request = function() return wrk.format(nil, "/api/transactions", nil, body) end
done = function(summary, latency, requests)
  io.write(string.format("WRK requests=%d non2xx=%d errors=%d p50_ms=%.1f p99_ms=%.1f\\n",
    summary.requests, summary.errors.status, summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def load_average() -> str:
    return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def spread_history(size: int, first_seq: int, codes: tuple[str, ...]) -> list[Entry]:
    """A BUY of 10,000 at MAIN (2,000 a location beyond 5), a transfer of 2,000 to each other
    location, then at each location in turn cycles of a BUY of 100 and SELLs of 10, a minute apart
    (every 500th row, with more than one location, a TRANSFER of 5 to the next one instead of a SELL)."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    entries = [Entry(first_seq, start, TxType.BUY, 2_000 * max(5, len(codes)), Decimal("3.0000"))]
    for i, code in enumerate(codes[1:], start=1):
        entries.append(Entry(first_seq + i, start + timedelta(minutes=i), TxType.TRANSFER, 2_000, location=MAIN,
                             to_location=code))  # fmt: skip
    for i in range(len(entries), size):
        at, where = start + timedelta(minutes=i), codes[i % len(codes)]
        if i % 11 == 0:
            price = Decimal(3 + i % 7).quantize(Decimal("0.0001"))
            entries.append(Entry(first_seq + i, at, TxType.BUY, 100, price, location=where))
        elif i % 500 == 7 and len(codes) > 1:
            to = codes[(i + 1) % len(codes)]
            entries.append(Entry(first_seq + i, at, TxType.TRANSFER, 5, location=where, to_location=to))
        else:
            entries.append(Entry(first_seq + i, at, TxType.SELL, 10, Decimal("9.9900"), location=where))
    return entries


async def load_product(conn: asyncpg.Connection, sku: str, entries: list[Entry]) -> None:
    """A product with this ledger, its figures folded by the domain, rows by COPY."""
    result = replay(entries)
    assert isinstance(result, Replay), result
    t = totals_of(list(result.posted))
    last = result.posted[-1]
    sold = [p.entry.at for p in result.posted if p.entry.type is TxType.SELL]
    pid = await conn.fetchval(
        """INSERT INTO product (sku, name, on_hand, average_cost, revenue, cogs, realized_pl, write_off, gain,
               units_in, units_out, tx_count, last_at, last_seq, last_sale_at, stocks)
           VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb) RETURNING id""",
        sku, result.end.stock, result.end.average_cost, t.revenue, t.cogs, t.realized_pl, t.write_off, t.gain,
        t.units_in, t.units_out, len(entries), last.entry.at, last.entry.seq, max(sold) if sold else None,
        json.dumps(dict(sorted(result.stocks.items()))),
    )  # fmt: skip
    records = [
        (pid, e.seq, e.type.value, e.quantity, e.unit_price, e.at, f.stock_after, f.average_cost_after, f.revenue,
         f.cogs, f.realized_pl, f.write_off, f.gain, e.location, e.to_location, f.location_stock_after,
         f.to_location_stock_after)
        for e, f in result.posted
    ]  # fmt: skip
    await conn.copy_records_to_table("stock_transaction", records=records, columns=COPY_COLUMNS)


async def prepare(url: str, edit_rows: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            "INSERT INTO location (code, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", [(c,) for c in TWENTY]
        )
        seq = 1
        for sku, codes in EDITED.items():
            await load_product(conn, sku, spread_history(edit_rows, seq, codes))
            seq += edit_rows
        start = datetime.now(UTC) - timedelta(days=1)
        await load_product(conn, "HOT-1L", [Entry(seq, start, TxType.BUY, 10_000_000, Decimal("4.0000"))])
        hot = [Entry(seq + 1 + i, start, TxType.BUY, 10_000_000, Decimal("4.0000"), location=code)
               for i, code in enumerate(FIVE)]  # fmt: skip
        await load_product(conn, "HOT-5L", hot)
        few = [Entry(seq + 10, start, TxType.BUY, 10_000_000, Decimal("4.0000")),
               Entry(seq + 11, start, TxType.BUY, 1_000, Decimal("4.0000"), location="STORE")]  # fmt: skip
        await load_product(conn, "FIN-STORE", few)
        await conn.execute("SELECT setval('stock_transaction_seq_seq', $1)", seq + 100)
        await conn.execute("VACUUM ANALYZE stock_transaction")
        await conn.execute("VACUUM ANALYZE product")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def time_edits(base: str, headers: dict[str, str], edits: int, rows: int) -> None:
    """Quantity edits of the first row of each EDIT- product, alternating; every row gets a new total."""
    times: dict[str, list[float]] = {sku: [] for sku in EDITED}
    async with httpx.AsyncClient(base_url=base, timeout=300, headers=headers) as client:
        first = {}
        for sku in times:
            r = await client.get(f"/api/products/{sku}/transactions", params={"limit": 1})
            first[sku] = (r.json()["items"][0]["id"], r.json()["items"][0]["quantity"])
        for i in range(edits):
            for sku, (tx_id, quantity) in first.items():
                started = time.perf_counter()
                r = await client.patch(f"/api/transactions/{tx_id}", json={"quantity": quantity + 1 + i % 2})
                times[sku].append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
        for sku, t in times.items():
            label = f"{len(EDITED[sku])} location{'s' if len(EDITED[sku]) > 1 else ' '}".ljust(12)
            print(f"backdated quantity edit, first of {rows:,} rows, {label}: median {statistics.median(t):.3f} s, "
                  f"min {min(t):.3f} s, max {max(t):.3f} s ({len(t)} edits)")  # fmt: skip
        one = statistics.median(times["EDIT-1L"])
        five, twenty = statistics.median(times["EDIT-5L"]), statistics.median(times["EDIT-20L"])
        print(f"  5 locations / 1 location = {five / one:.2f}x (target <= 1.3x); 20 / 1 = {twenty / one:.2f}x "
              f"({load_average()})")  # fmt: skip
        for sku in times:
            summary = (await client.get(f"/api/products/{sku}")).json()
            shown = {x["location"]: x["on_hand"] for x in summary.get("locations", [])}
            print(f"  {sku}: on hand {summary['on_hand']}, at {len(shown)} locations, MAIN {shown.get(MAIN)}")
        anomalies = (await client.post("/api/reports/anomalies", params={"wait": "true"})).json()["items"]
        print(f"  anomalies after the edits: {len(anomalies)}")


async def sells_committed(url: str, sku: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM stock_transaction t JOIN product p ON p.id = t.product "
            "WHERE t.type = 'SELL' AND p.sku = $1",
            sku,
        )
    finally:
        await conn.close()


def run_wrk(base: str, script: Path, seconds: int, connections: int, env: dict[str, str]) -> str:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script), base],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.search(r"WRK .*", out)
    assert found, out
    return found.group(0)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_sells(url: str, base: str, token: str, seconds: int, connections: int, rounds: int, pid: int) -> None:
    """Rounds of wrk on HOT-1L (no location named) and HOT-5L (sales at STORE), alternating; beside
    the rate, the app process's CPU time per committed sale (less at the mercy of the machine's load
    than the rate is)."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(SELL_LUA)
    rates: dict[str, list[float]] = {"HOT-1L": [], "HOT-5L": []}
    cpu: dict[str, list[float]] = {"HOT-1L": [], "HOT-5L": []}
    try:
        pair = [("HOT-1L", ""), ("HOT-5L", "STORE")]
        for n in range(rounds):
            for sku, location in pair if n % 2 == 0 else pair[::-1]:  # either goes first in turn
                before = asyncio.run(sells_committed(url, sku))
                cpu_before = cpu_seconds(pid)
                started = time.perf_counter()
                out = run_wrk(base, script, seconds, connections, {"TOKEN": token, "HOT_SKU": sku,
                                                                   "LOCATION": location})  # fmt: skip
                elapsed, used = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
                committed = asyncio.run(sells_committed(url, sku)) - before
                rates[sku].append(committed / elapsed)
                cpu[sku].append(used / committed * 1000)
                where = f"at {location}" if location else "no location"
                print(f"hot product {sku} ({where}): {committed / elapsed:7.0f} sells/s, app CPU "
                      f"{cpu[sku][-1]:.2f} ms/sale ({out}; {load_average()})")  # fmt: skip
    finally:
        script.unlink()
    finite_at_a_location(url, base, token, script_text=SELL_LUA, connections=connections)
    one, five = statistics.median(rates["HOT-1L"]), statistics.median(rates["HOT-5L"])
    print(f"  sells/s, median of {rounds} rounds: 1 location {one:.0f}, 5 locations (sales at STORE) {five:.0f}: "
          f"{(five / one - 1) * 100:+.1f} % (target within 10 %)")  # fmt: skip
    one, five = statistics.median(cpu["HOT-1L"]), statistics.median(cpu["HOT-5L"])
    print(f"  app CPU per sale, median: 1 location {one:.2f} ms, 5 locations (at STORE) {five:.2f} ms: "
          f"{(five / one - 1) * 100:+.1f} %")  # fmt: skip


def finite_at_a_location(url: str, base: str, token: str, *, script_text: str, connections: int) -> None:
    """Zero oversell at a location: sales at STORE, which holds 1,000 of a product with 10,000,000 at
    MAIN, from all the clients for 5 s: exactly 1,000 sold, and no row leaves STORE below zero."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(script_text)
    try:
        out = run_wrk(base, script, 5, connections, {"TOKEN": token, "HOT_SKU": "FIN-STORE", "LOCATION": "STORE"})
    finally:
        script.unlink()

    async def check() -> tuple[int, int, str]:
        conn = await asyncpg.connect(url)
        try:
            sold = await conn.fetchval(
                "SELECT coalesce(sum(t.quantity), 0) FROM stock_transaction t JOIN product p ON p.id = t.product "
                "WHERE p.sku = 'FIN-STORE' AND t.type = 'SELL' AND t.location = 'STORE'"
            )
            negative = await conn.fetchval(
                "SELECT count(*) FROM stock_transaction t JOIN product p ON p.id = t.product "
                "WHERE p.sku = 'FIN-STORE' AND (t.location_stock_after < 0 OR t.stock_after < 0)"
            )
            stocks = await conn.fetchval("SELECT stocks::text FROM product WHERE sku = 'FIN-STORE'")
            return sold, negative, stocks
        finally:
            await conn.close()

    sold, negative, stocks = asyncio.run(check())
    print(f"finite stock at STORE (1,000 there, 10,000,000 at MAIN): sold {sold} at STORE, rows below zero "
          f"{negative}, stocks {stocks} ({out})")  # fmt: skip


@contextmanager
def database_before_locations() -> Iterator[str]:
    """An embedded database migrated up to the migration before the locations one."""
    from app.persistence.migrations import engine
    from app.services import embedded

    data_dir = Path(tempfile.mkdtemp(prefix="srb-", dir="/tmp"))
    try:
        url = embedded.ensure_running(data_dir)
        asyncio.run(_forwards(url, BEFORE_LOCATIONS))
        engine().config["dsn"] = url
        yield url
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


async def _forwards(url: str, up_to: str) -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from app.persistence.migrations import engine

    engine().config["dsn"] = url
    with redirect_stdout(StringIO()):
        result = await run_forwards("stockroom", migration_id=up_to)
    assert result.success, result.message


async def _ledger_file(url: str) -> tuple[int, int, int, dict[str, int]]:
    """The ledger table's file node, size and rows, and the file node of each of its indexes (a
    rewritten table or rebuilt index gets a new one)."""
    conn = await asyncpg.connect(url)
    try:
        r = await conn.fetchrow(
            """SELECT pg_relation_filenode('stock_transaction') AS node,
                      pg_relation_size('stock_transaction') AS size,
                      (SELECT count(*) FROM stock_transaction) AS rows"""
        )
        indexes = await conn.fetch(
            """SELECT c.relname, pg_relation_filenode(c.oid) AS node FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'stock_transaction'::regclass"""
        )
        return r["node"], r["size"], r["rows"], {x["relname"]: x["node"] for x in indexes}
    finally:
        await conn.close()


async def _statement_times(url: str) -> list[tuple[float, str]]:
    """Each statement of the locations migration timed alone, in one transaction rolled back."""
    import importlib

    sql = importlib.import_module("migrations.stockroom_2026_11_30t14_00_00_000000").SQL
    statements = [x.strip() for x in sql.split(";\n") if x.strip()]
    conn = await asyncpg.connect(url)
    times = []
    try:
        async with conn.transaction():
            for statement in statements:
                started = time.perf_counter()
                await conn.execute(statement)
                code = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
                times.append((time.perf_counter() - started, " ".join(code.split())[:70]))
            raise _RollBack
    except _RollBack:
        pass
    finally:
        await conn.close()
    return times


class _RollBack(Exception):
    pass


def time_migration() -> None:
    with database_before_locations() as url:
        started = time.perf_counter()
        asyncio.run(prepare_history(url, with_1m=True))
        print(f"loaded the ledger of bench/history.py before locations in {time.perf_counter() - started:.1f} s")
        print(f"each statement of the migration alone (in a transaction then rolled back; {load_average()}):")
        for took, what in asyncio.run(_statement_times(url)):
            print(f"  {took:6.3f} s  {what}")
        node, size, rows, indexes = asyncio.run(_ledger_file(url))
        print(f"  {load_average()}")
        started = time.perf_counter()
        asyncio.run(_forwards(url, LOCATIONS_MIGRATION))
        took = time.perf_counter() - started
        after_node, after_size, _, after_indexes = asyncio.run(_ledger_file(url))
        rewritten = "REWRITTEN" if after_node != node else "not rewritten"
        print(f"locations migration on {rows:,} ledger rows: {took:.2f} s; stock_transaction {rewritten} "
              f"(file node {node} -> {after_node}, {size / 2**20:.0f} -> {after_size / 2**20:.0f} MiB; "
              f"{load_average()})")  # fmt: skip
        rebuilt = sorted(name for name, was in indexes.items() if after_indexes.get(name) != was)
        new = sorted(set(after_indexes) - set(indexes))
        print(f"  indexes rebuilt: {', '.join(rebuilt) or 'none'} (of {len(indexes)}); new: {', '.join(new)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["edit", "sells", "migration"])
    args = parser.parse_args()
    print(f"cores={os.cpu_count()}, {load_average()}")
    if args.only in (None, "edit", "sells"):
        with throwaway_database() as url:
            started = time.perf_counter()
            asyncio.run(prepare(url, args.rows))
            print(f"loaded {len(EDITED)} x {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
            with serving(url) as server:
                if args.only in (None, "edit"):
                    asyncio.run(time_edits(server.url, server.headers, args.edits, args.rows))
                if args.only in (None, "sells"):
                    token = server.headers["Authorization"].removeprefix("Bearer ")
                    print(f"wrk -c{args.connections} -d{args.seconds}s, 1 app worker")
                    pid = server.process.pid  # type: ignore[attr-defined]
                    time_sells(url, server.url, token, args.seconds, args.connections, args.rounds, pid)
    if args.only in (None, "migration"):
        time_migration()


if __name__ == "__main__":
    main()
