"""Benchmark (b): a backdated edit of the first transaction of a product with 100,000
transactions, and appending a sale to it and to a product with 1,000,000; and (issue 13) the first
and the last page of the 1,000,000-row product's timeline, by cursor and by the old OFFSET, on the
API and on the product page (which also draws the stock chart and the monthly table).

    python -m bench.history [--appends 200] [--edits 5] [--pages-only]
    python -m bench.history --head-of-line-only [--edits 10] [--variant NAME:VAR=VALUE,...]...

`--head-of-line-only` loads only the 100,000-row product and times its quantity edits and the
head-of-line run; each `--variant` repeats them, in the same run, against a server started with
those environment variables (e.g. `--variant base: --variant small:INVENTORY_REFOLD_CHUNK=1024`).

Histories are generated with the domain fold and loaded with COPY; every timing goes
through the running app over HTTP. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx

from app.domain.ledger import Entry, Replay, replay
from app.domain.rules import TxType
from app.domain.summary import totals_of
from app.domain.timeline_cursor import cursor_of
from bench.common import serving, throwaway_database

COLUMNS = ["product", "seq", "type", "quantity", "unit_price", "at", "stock_after", "average_cost_after", "revenue",
           "cogs", "realized_pl", "write_off", "gain"]  # fmt: skip


def history(size: int, first_seq: int) -> list[Entry]:
    """A BUY of 10,000, then cycles of a BUY of 100 and ten SELLs of 10, a minute apart."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    entries = [Entry(first_seq, start, TxType.BUY, 10_000, Decimal("3.0000"))]
    for i in range(1, size):
        at = start + timedelta(minutes=i)
        if i % 11 == 0:
            entries.append(Entry(first_seq + i, at, TxType.BUY, 100, Decimal(3 + i % 7).quantize(Decimal("0.0001"))))
        else:
            entries.append(Entry(first_seq + i, at, TxType.SELL, 10, Decimal("9.9900")))
    return entries


async def load(conn: asyncpg.Connection, sku: str, size: int, first_seq: int) -> None:
    entries = history(size, first_seq)
    result = replay(entries)
    assert isinstance(result, Replay)
    t = totals_of(list(result.posted))
    last = result.posted[-1]
    pid = await conn.fetchval(
        """INSERT INTO product (sku, name, on_hand, average_cost, revenue, cogs, realized_pl, write_off, gain,
               units_in, units_out, tx_count, last_at, last_seq, last_sale_at)
           VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id""",
        sku, result.end.stock, result.end.average_cost, t.revenue, t.cogs, t.realized_pl, t.write_off, t.gain,
        t.units_in, t.units_out, size, last.entry.at, last.entry.seq,
        max(p.entry.at for p in result.posted if p.entry.type is TxType.SELL),
    )  # fmt: skip
    records = [
        (pid, p.entry.seq, p.entry.type.value, p.entry.quantity, p.entry.unit_price, p.entry.at,
         p.figures.stock_after, p.figures.average_cost_after, p.figures.revenue, p.figures.cogs,
         p.figures.realized_pl, p.figures.write_off, p.figures.gain)
        for p in result.posted
    ]  # fmt: skip
    await conn.copy_records_to_table("stock_transaction", records=records, columns=COLUMNS)


async def prepare(url: str, with_1m: bool = True) -> None:
    conn = await asyncpg.connect(url)
    try:
        await load(conn, "BIG-100K", 100_000, 1)
        if with_1m:
            await load(conn, "BIG-1M", 1_000_000, 200_000)
        await conn.execute("SELECT setval('stock_transaction_seq_seq', 2000000)")
        await conn.execute("VACUUM ANALYZE stock_transaction")
        await conn.execute("VACUUM ANALYZE product")
        await conn.execute("CHECKPOINT")  # measure edits, not the write-out of the bulk load
    finally:
        await conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def time_edits(client: httpx.AsyncClient, tx_id: int, patches: list[dict[str, object]], what: str,
                     effect: str) -> None:  # fmt: skip
    times = []
    for patch in patches:
        started = time.perf_counter()
        r = await client.patch(f"/api/transactions/{tx_id}", json=patch)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    print(
        f"backdated {what} edit of the first of 100,000 rows: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s ({len(times)} edits; {effect})"
    )


async def head_of_line(base: str, tx_id: int, edits: int, headers: dict[str, str]) -> None:
    """While a backdated quantity edit of the 100,000-row product runs: a steady 50 sales/s of a
    small product and 20 /healthz probes/s (only those started during an edit count), and one
    sale of the edited product itself (it waits for the edit; how long)."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as editor,
        httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as seller,
        httpx.AsyncClient(base_url=base, timeout=120) as prober,
    ):
        r = await seller.post("/api/products", json={"sku": "HOL-SMALL", "name": "small"})
        assert r.status_code in (201, 409), r.text
        await seller.post("/api/transactions", json={"sku": "HOL-SMALL", "type": "BUY", "quantity": 1_000_000,
                                                      "unit_price": "1.00"})  # fmt: skip
        sales: list[float] = []
        probes: list[float] = []
        calm: list[float] = []  # sales started while no edit ran: what the machine's load alone costs
        waits: list[float] = []
        editing = asyncio.Event()
        stop = asyncio.Event()

        async def steady(every: float, call, into: list[float], outside: list[float]) -> None:  # type: ignore[no-untyped-def]
            while not stop.is_set():
                started = time.perf_counter()
                during = editing.is_set()
                await call()
                (into if during else outside).append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(max(0.0, every - (time.perf_counter() - started)))

        sale = {"type": "SELL", "quantity": 1, "unit_price": "2.00"}
        runners = [
            asyncio.create_task(steady(0.02, lambda: seller.post("/api/transactions",
                                                                 json={"sku": "HOL-SMALL", **sale}), sales, calm)),
            asyncio.create_task(steady(0.05, lambda: prober.get("/healthz"), probes, [])),
        ]  # fmt: skip
        for i in range(edits):
            await asyncio.sleep(0.3)
            editing.set()
            edit = asyncio.create_task(editor.patch(f"/api/transactions/{tx_id}", json={"quantity": 10_003 + i % 2}))
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            r = await seller.post("/api/transactions", json={"sku": "BIG-100K", **sale})
            waits.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 201, r.text
            assert (await edit).status_code == 200
            editing.clear()
        stop.set()
        await asyncio.gather(*runners)
    print(f"during {edits} backdated quantity edits of the 100,000-row product:")
    print(f"  sales of another product: p50 {pct(sales, 0.5):.1f} ms, p99 {pct(sales, 0.99):.1f} ms "
          f"({len(sales)} sales; target p99 <= 100 ms)")  # fmt: skip
    print(f"  (the same sales between the edits: p50 {pct(calm, 0.5):.1f} ms, p99 {pct(calm, 0.99):.1f} ms, "
          f"{len(calm)} sales)")  # fmt: skip
    print(f"  /healthz: p50 {pct(probes, 0.5):.1f} ms, max {max(probes):.1f} ms ({len(probes)} probes; "
          f"target <= 50 ms)")  # fmt: skip
    print(f"  a sale of the edited product waited: median {statistics.median(waits):.0f} ms (behind its edit)")


async def measure(base: str, appends: int, edits: int, headers: dict[str, str], appended: tuple[str, ...]) -> None:
    """Timed price and quantity edits of BIG-100K's first row, then `appends` sales to each of `appended`."""
    async with httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as client:
        first = (await client.get("/api/products/BIG-100K/transactions", params={"limit": 1})).json()["items"][0]
        price = [{"unit_price": f"{3 + (i % 2)}.5000"} for i in range(edits)]
        await time_edits(client, first["id"], price, "price", "cost changes ripple through ~12,000 later rows")
        quantity = [{"quantity": 10_001 + (i % 2)} for i in range(edits)]
        await time_edits(client, first["id"], quantity, "quantity", "all 100,000 rows get new figures")
        for sku in appended:
            lat = []
            for _ in range(appends):
                started = time.perf_counter()
                r = await client.post(
                    "/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "9.99"}
                )
                lat.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 201, r.text
            print(
                f"append a sale to {sku:<9} p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms ({appends} sales)"
            )
        anomalies = (await client.post("/api/reports/anomalies", params={"wait": "true"})).json()["items"]
        print(f"anomalies after the run: {len(anomalies)}")


async def time_pages(url: str, base: str, headers: dict[str, str], repeats: int = 20) -> None:
    """The first and the last page of BIG-1M's timeline: on the API (oldest first) and on the product
    page (newest first), the last one by the cursor a walk would have reached and by OFFSET (as before)."""
    conn = await asyncpg.connect(url)
    try:
        keys = await conn.fetch(
            """(SELECT at, seq FROM stock_transaction t JOIN product p ON p.id = t.product WHERE p.sku = 'BIG-1M'
                ORDER BY at DESC, seq DESC OFFSET 50 LIMIT 1)
               UNION ALL
               (SELECT at, seq FROM stock_transaction t JOIN product p ON p.id = t.product WHERE p.sku = 'BIG-1M'
                ORDER BY at, seq OFFSET 50 LIMIT 1)"""
        )
        total = await conn.fetchval("SELECT tx_count FROM product WHERE sku = 'BIG-1M'")
    finally:
        await conn.close()
    before_last_api = cursor_of((keys[0]["at"], keys[0]["seq"]))  # the 51st newest: after it, the last 50
    before_last_page = cursor_of((keys[1]["at"], keys[1]["seq"]))  # the 51st oldest: before it, the oldest 50
    last_page_no = -(-total // 50)
    api, page = "/api/products/BIG-1M/transactions", "/products/BIG-1M"
    # Each line: the API's page (the timeline alone) beside the product page's (the timeline, the stock
    # chart, the monthly table and the rest of the page, rendered).
    cases = [
        ("first page", {"limit": 50}, {}),
        ("last page by cursor", {"limit": 50, "after": before_last_api},
         {"page_no": last_page_no, "before": before_last_page}),
        ("last page by OFFSET", {"limit": 50, "offset": total - 50}, {"page_no": last_page_no}),
    ]  # fmt: skip
    print(f"timeline pages of BIG-1M ({total:,} rows), {repeats} sequential requests each, p50 / max:")
    async with httpx.AsyncClient(base_url=base, timeout=120, headers=headers) as client:

        async def timed(path: str, params: dict[str, object]) -> tuple[float, float]:
            times = []
            for _ in range(repeats + 1):
                started = time.perf_counter()
                r = await client.get(path, params=params)
                times.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200, r.text
            times = times[1:]  # the first warms the caches
            return statistics.median(times), max(times)

        for what, api_params, page_params in cases:
            a50, amax = await timed(api, api_params)
            p50, pmax = await timed(page, page_params)
            print(f"  {what:<20} API (limit 50) p50 {a50:6.1f} ms, max {amax:6.1f} ms | "
                  f"product page p50 {p50:7.1f} ms, max {pmax:7.1f} ms")  # fmt: skip


def variant(text: str) -> tuple[str, dict[str, str]]:
    """`NAME:VAR=VALUE,VAR=VALUE` (or `NAME:` for the defaults)."""
    name, _, settings = text.partition(":")
    return name, dict(pair.split("=", 1) for pair in settings.split(",") if pair)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appends", type=int, default=200)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--pages-only", action="store_true", help="only the timeline's first and last pages")
    parser.add_argument("--head-of-line-only", action="store_true",
                        help="only the 100,000-row product: its edits and the head-of-line run")  # fmt: skip
    parser.add_argument("--variant", type=variant, action="append", default=[],
                        help="NAME:VAR=VALUE,...: repeat against a server with this environment")  # fmt: skip
    args = parser.parse_args()
    variants = args.variant or [("default", {})]
    with throwaway_database() as url:
        started = time.perf_counter()
        asyncio.run(prepare(url, with_1m=not args.head_of_line_only))
        rows = "100,000" if args.head_of_line_only else "1,100,000"
        print(f"loaded {rows} rows in {time.perf_counter() - started:.1f} s")
        for name, env in variants:
            if len(variants) > 1:
                print(f"--- {name} {env}")
            with serving(url, **env) as server:
                if not args.head_of_line_only:
                    asyncio.run(time_pages(url, server.url, server.headers))
                    if args.pages_only:
                        return
                appended = () if args.head_of_line_only else ("BIG-100K", "BIG-1M")
                asyncio.run(measure(server.url, args.appends, args.edits, server.headers, appended))
                first = httpx.get(f"{server.url}/api/products/BIG-100K/transactions", params={"limit": 1},
                                  headers=server.headers, timeout=60).json()["items"][0]  # fmt: skip
                asyncio.run(head_of_line(server.url, first["id"], args.edits, server.headers))


if __name__ == "__main__":
    main()
