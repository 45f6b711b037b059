"""Benchmark: the dashboard with 1,000 products (server time per render, and pages/s under load).

    python -m bench.pages [--products 1000] [--renders 50]
    python -m bench.pages --catalogue [--renders 30] [--streams 1000]   # issue 13, at 1,000 and 50,000 products

Needs `wrk` for the throughput line (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import shutil
import subprocess
import time
from pathlib import Path

import asyncpg
import httpx

from app.persistence.events import CHANNEL
from bench.common import serving, throwaway_database
from bench.sells import seed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# Products with varied figures (statuses, categories, brands, barcodes, dates), `$2` of them after
# the `$1` already there: the dashboard's rows, sorts and filters have something to work on.
CATALOGUE_SQL = """
INSERT INTO product (sku, name, category, brand, low_stock_threshold, on_hand, reserved, average_cost,
                     revenue, cogs, realized_pl, units_in, tx_count, last_counted_at, last_sale_at, barcode)
SELECT 'CAT-' || lpad(g::text, 6, '0'),
       (ARRAY['Green', 'Black', 'Oolong', 'Herbal', 'White'])[g % 5 + 1] || ' tea no ' || (g * 7919 % 100003),
       'cat' || (g % 17), 'brand' || (g % 41), 5 + g % 10,
       (g * 37) % 200, least((g * 37) % 200, g % 4), ((g * 7) % 100000) / 10000.0,
       g * 3, g * 2, g - 2500, (g * 37) % 200, 1,
       CASE WHEN g % 3 = 0 THEN NULL ELSE timestamptz '2026-01-01 00:00+00' + g * interval '7 minutes' END,
       CASE WHEN g % 4 = 0 THEN NULL ELSE timestamptz '2026-02-01 00:00+00' + (g * 7 % 5000) * interval '1 hour' END,
       CASE WHEN g % 10 = 0 THEN '4006381' || lpad(g::text, 6, '0') END
FROM generate_series($1 + 1, $2) AS g
"""
SIZES = (1_000, 50_000)


def timed(client: httpx.Client, path: str, renders: int, **kwargs: object) -> tuple[float, float, httpx.Response]:
    """p50 and p99 in ms of `renders` sequential requests (loopback: the server's time plus a little)."""
    client.get(path, **kwargs)  # type: ignore[arg-type]
    times = []
    for _ in range(renders):
        started = time.perf_counter()
        r = client.get(path, **kwargs)  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
    return pct(times, 0.5), pct(times, 0.99), r


def wire_bytes(client: httpx.Client, path: str) -> tuple[int, int]:
    """(bytes on the wire with gzip, bytes of the HTML): the body as sent, before httpx decodes it."""
    with client.stream("GET", path, headers={"accept-encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
        assert r.headers.get("content-encoding") == "gzip", r.headers
    return len(raw), len(gzip.decompress(raw))


def page_stream(client: httpx.Client, skus: list[str]) -> tuple[float, float, int, int]:
    """The dashboard's stream for its rows: ms to the first event, ms to the last state event, bytes
    until then, events."""
    url = "/events?" + "&".join(f"sku={s}" for s in skus) + "&alerts=all"
    started = time.perf_counter()
    first = last = 0.0
    size = events = 0
    with client.stream("GET", url) as r:
        for line in r.iter_lines():
            size += len(line) + 1
            if line.startswith("data:"):
                events += 1
                now = (time.perf_counter() - started) * 1000
                first = first or now
                last = now
                if events == len(skus):
                    break
    return first, last, size, events


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (uvicorn's worker), KiB."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) if "VmRSS" in status else 0
    return total


async def open_page_streams(base: str, headers: dict[str, str], count: int, size: int) -> tuple[float, asyncio.Event]:
    """`count` page streams (page k of the catalogue in SKU order: its 50 SKUs and alerts=all), each read
    until it has its rows' state; returns the seconds until all had it, and an event that closes them."""
    done, close = asyncio.Semaphore(0), asyncio.Event()
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=0)
    client = httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits)

    async def one(k: int) -> None:
        first = (k * 50) % size
        skus = [f"CAT-{first + i + 1:06d}" for i in range(50)]
        url = "/events?" + "&".join(f"sku={s}" for s in skus) + "&alerts=all"
        async with client.stream("GET", url) as r:
            seen = 0
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    seen += 1
                    if seen == 50:
                        done.release()
                        await close.wait()
                        return

    started = time.perf_counter()
    tasks = [asyncio.create_task(one(k)) for k in range(count)]
    for _ in range(count):
        await done.acquire()
    elapsed = time.perf_counter() - started

    async def finish() -> None:
        await close.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        await client.aclose()

    asyncio.get_running_loop().create_task(finish())
    return elapsed, close


def streams_memory(server: object, count: int, size: int) -> tuple[int, int, float]:
    """Server RSS (KiB) before and with `count` open page streams, and seconds to open them all."""
    pid = server.process.pid  # type: ignore[attr-defined]
    before = tree_rss_kib(pid)

    async def run() -> tuple[int, float]:
        elapsed, close = await open_page_streams(server.url, server.headers, count, size)  # type: ignore[attr-defined]
        await asyncio.sleep(1)
        with_streams = tree_rss_kib(pid)
        close.set()
        await asyncio.sleep(0.5)
        return with_streams, elapsed

    with_streams, elapsed = asyncio.run(run())
    return before, with_streams, elapsed


def catalogue(renders: int, streams: int = 0) -> None:
    """Issue 13's dashboard targets, at 1,000 and at 50,000 products in one run."""
    results: dict[int, dict[str, float]] = {}
    with throwaway_database() as url, serving(url, INVENTORY_SWEEP_SECONDS="3600") as server:
        made = 0
        with httpx.Client(base_url=server.url, timeout=60, headers=server.headers) as client:
            for size in SIZES:

                async def grow(start: int, end: int) -> None:
                    conn = await asyncpg.connect(url)
                    try:
                        await conn.execute(CATALOGUE_SQL, start, end)
                        await conn.execute("VACUUM ANALYZE product")
                        # Written behind the app's back: say so, as every writer does (the totals it keeps).
                        await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
                    finally:
                        await conn.close()

                asyncio.run(grow(made, size))
                made = size
                first, first99, r = timed(client, "/", renders)
                rows = re.findall(r'<tr data-sku="([^"]+)"', r.text)
                assert len(rows) == 50 and f"{size:,} products" in r.text, (len(rows), size)
                wire, html = wire_bytes(client, "/")
                sort, sort99, _ = timed(client, "/?sort=value&dir=desc&page=7", renders, headers={"HX-Request": "true"})
                filt, filt99, _ = timed(client, "/?status=low&category=cat3&sort=last_sale", renders)
                search, search99, found = timed(client, "/?q=olong+00012", renders, headers={"HX-Request": "true"})
                broad, broad99, _ = timed(client, "/?q=olong+tea+no+12", renders, headers={"HX-Request": "true"})
                assert re.search(r'<tr data-sku="', found.text)
                code, code99, _ = timed(client, "/transactions/suggest?sku=4006381000120", renders)
                words, words99, _ = timed(client, "/transactions/suggest?sku=olong+00012", renders)
                s_first, s_last, s_bytes, s_events = page_stream(client, rows)
                if streams and size == SIZES[-1]:
                    before, with_them, opened = streams_memory(server, streams, size)
                    memory = (
                        f"{streams} page streams open at {size:,} products: server RSS {before / 1024:.0f} MiB before, "
                        f"{with_them / 1024:.0f} MiB with them ({(with_them - before) / streams:.0f} KiB a stream); "
                        f"all had their rows' state {opened:.1f} s after the first was asked for"
                    )
                results[size] = dict(
                    first=first, first99=first99, wire=wire, html=html, sort=sort, sort99=sort99, filt=filt,
                    filt99=filt99, search=search, search99=search99, broad=broad, code=code, words=words,
                    words99=words99,
                    s_first=s_first, s_last=s_last, s_bytes=s_bytes, s_events=s_events,
                )  # fmt: skip
    small, big = (results[n] for n in SIZES)
    memory = locals().get("memory")
    lines = [
        ("dashboard first page, p50 ms (target ≤ 100 at 50,000)", "first", "{:.1f}"),
        ("dashboard first page, p99 ms", "first99", "{:.1f}"),
        ("  on the wire, gzip, KiB (target ≤ 60)", "wire", "kib"),
        ("  HTML before compression, KiB", "html", "kib"),
        ("sorted by value, page 7 (htmx), p50 ms", "sort", "{:.1f}"),
        ("status=low & category & sort by last sale, p50 ms", "filt", "{:.1f}"),
        ("search 'olong 00012' (htmx), p50 ms (target ≤ 30)", "search", "{:.1f}"),
        ("  p99 ms", "search99", "{:.1f}"),
        ("search 'olong tea no 12' (1 in 5 names), p50 ms", "broad", "{:.1f}"),
        ("suggestions for a barcode, p50 ms", "code", "{:.1f}"),
        ("suggestions for 'olong 00012', p50 ms", "words", "{:.1f}"),
        ("page stream: first event, ms", "s_first", "{:.1f}"),
        ("page stream: state of its rows, ms", "s_last", "{:.1f}"),
        ("page stream: bytes of that state", "s_bytes", "{:.0f}"),
        ("page stream: state events", "s_events", "{:.0f}"),
    ]
    print(f"{'':56} {'1,000':>10} {'50,000':>10} {'growth':>8}")
    for label, key, form in lines:
        a, b = small[key], big[key]
        shown = [f"{v / 1024:.1f}" if form == "kib" else form.format(v) for v in (a, b)]
        print(f"{label:56} {shown[0]:>10} {shown[1]:>10} {b / a if a else 0:>7.2f}×")
    if memory:
        print(memory)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=50)
    parser.add_argument("--catalogue", action="store_true", help="issue 13's dashboard targets at 1,000 and 50,000")
    parser.add_argument("--streams", type=int, default=1000, help="with --catalogue: page streams open at 50,000")
    args = parser.parse_args()
    if args.catalogue:
        catalogue(args.renders, args.streams)
        return
    with throwaway_database() as url, serving(url, INVENTORY_SWEEP_SECONDS="3600") as server:
        asyncio.run(seed(url, "DASH-", args.products, 250))
        with httpx.Client(base_url=server.url, timeout=60, headers=server.headers) as client:
            client.get("/")  # warm up templates
            times, size = [], 0
            for _ in range(args.renders):
                started = time.perf_counter()
                r = client.get("/")
                times.append((time.perf_counter() - started) * 1000)
                size = len(r.content)
            rows = len(re.findall(r"<tr data-sku=", r.text))
        print(f"dashboard with {rows} product rows ({size / 1024:.0f} KiB): p50 {pct(times, .5):.1f} ms, "
              f"p99 {pct(times, .99):.1f} ms over {args.renders} sequential renders")  # fmt: skip
        if shutil.which("wrk"):
            out = subprocess.run(
                [
                    "wrk",
                    "-t2",
                    "-c8",
                    "-d10s",
                    "-H",
                    f"Authorization: {server.headers['Authorization']}",
                    f"{server.url}/",
                ],
                capture_output=True,
                text=True,
            ).stdout
            rate = re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)
            print(f"wrk -c8 -d10s /: {float(rate):.0f} dashboards/s ({rows} rows each)")


if __name__ == "__main__":
    main()
