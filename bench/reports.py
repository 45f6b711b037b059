"""Issue 13: every report at 1,000 and at 50,000 products (100 transactions each: 5,000,000 rows),
the CSV export's rate, the full self-check, and `inventory demo --products N`'s build time.

    python -m bench.reports [--products 1000,50000] [--rows-per-product 100] [--data-dir DIR] [--repeats 5]

The catalogue is built by the demo's generator (app/services/demo.py: the CSV import, 1,000 products
at a time), first the small size, then grown to the large one; each report is timed over HTTP
(`--repeats` sequential requests after one warm-up, median and max) with one app process. With
`--data-dir` the embedded cluster is kept there (and reused by a later run: what is there is skipped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from app.persistence.database import Database
from app.persistence.migrations import migrate
from app.services import embedded
from app.services.demo import CatalogueProgress, load_catalogue
from app.services.selfcheck import SelfCheck
from app.settings import Settings
from bench import common
from bench.common import serving
from tests.conftest import inventory_cli

REPORT_TARGET_MS = 500
EXPORT_TARGET = 100_000  # rows a second
Params = dict[str, object] | Callable[[int], dict[str, object]]  # the same each time, or the k-th request's
REPORTS: list[tuple[str, str, Params]] = [  # (what, path, params)
    ("summary", "/api/reports/summary", {}),
    ("low-stock", "/api/reports/low-stock", {}),
    ("out-of-stock", "/api/reports/out-of-stock", {}),
    ("overstock", "/api/reports/overstock", {}),
    ("needs-count", "/api/reports/needs-count", {}),
    ("movers (30 d, top 20)", "/api/reports/movers", {}),
    ("movers (365 d, slowest 20)", "/api/reports/movers", {"days": 365, "order": "slow"}),
    ("by-category", "/api/reports/by-category", {}),
    ("by-brand", "/api/reports/by-brand", {}),
    ("anomalies (the last full check)", "/api/reports/anomalies", {}),
    ("anomalies ?sku= (one product, now)", "/api/reports/anomalies", {"sku": "DEMO-000123"}),
    ("valuation (now)", "/api/reports/valuation", {}),
    (
        "valuation (30 days ago; target 2 s)",
        "/api/reports/valuation",
        {"at": (datetime.now(UTC) - timedelta(days=30)).date().isoformat()},
    ),
    (
        "valuation (30 days ago), page 100 of 500",
        "/api/reports/valuation",
        {"at": (datetime.now(UTC) - timedelta(days=30)).date().isoformat(), "page": 100},
    ),
    (  # each request a moment not asked before: its sums are not kept yet (the first ask of a valuation)
        "valuation (a new moment each time), page 100",
        "/api/reports/valuation",
        lambda k: {"at": (datetime.now(UTC) - timedelta(days=30, seconds=k)).isoformat(), "page": 100},
    ),
]


@contextlib.contextmanager
def cluster(data_dir: str | None) -> Iterator[str]:
    kept = data_dir is not None
    path = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="srr-", dir="/tmp"))
    try:
        url = embedded.ensure_running(path)
        asyncio.run(migrate(url))
        yield url
    finally:
        if not kept:
            embedded.stop(path)
            shutil.rmtree(path, ignore_errors=True)


def reuse_admin(url: str) -> None:
    """A kept database has the benchmark's admin already: a new token for it."""
    try:
        common.admin_token(url)
    except AssertionError:
        common._tokens[url] = inventory_cli("token", "create", "bench", INVENTORY_DATABASE_URL=url)


def bar(step: CatalogueProgress) -> None:
    print(f"\r  demo: {step.products_done:,}/{step.products:,} products, {step.rows_done:,} rows, "
          f"{step.seconds:.0f} s", end="", flush=True)  # fmt: skip


def timed(client: httpx.Client, path: str, params: Params, repeats: int) -> tuple[float, float, int, int]:
    """Median and max ms, bytes of the last answer, and how many items it listed."""
    times = []
    for k in range(repeats + 1):
        started = time.perf_counter()
        r = client.get(path, params=params(k) if callable(params) else params)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    body = r.json()
    items = len(body.get("items", [])) if isinstance(body, dict) else 0
    return statistics.median(times[1:]), max(times[1:]), len(r.content), items


def export_rate(client: httpx.Client) -> tuple[int, float, int]:
    """Rows, seconds and bytes of GET /api/transactions.csv (the whole ledger), read as it streams."""
    started = time.perf_counter()
    lines = size = 0
    with client.stream("GET", "/api/transactions.csv", timeout=3600) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
    return lines - 1, time.perf_counter() - started, size


async def full_check(url: str) -> tuple[float, int, int, int]:
    async with Database(url, pool_size=2).opened() as db:
        started = time.perf_counter()
        outcome = await SelfCheck(db).full()
    return time.perf_counter() - started, outcome.products, outcome.rows, outcome.anomalies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", default="1000,50000")
    parser.add_argument("--rows-per-product", type=int, default=100)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--no-build", action="store_true", help="measure the catalogue in --data-dir as it is")
    parser.add_argument("--skip-check", action="store_true", help="no full self-check")
    parser.add_argument("--only", default="", help="time only the reports whose name holds this text")
    args = parser.parse_args()
    sizes = [int(n) for n in args.products.split(",")]
    print(f"cores={os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the start")
    with cluster(args.data_dir) as url:
        settings = replace(Settings.from_env(), database_url=url)
        reuse_admin(url)
        results: dict[int, dict[str, tuple[float, float, int, int]]] = {}
        extra: dict[int, list[str]] = {}
        for size in sizes:
            notes = extra.setdefault(size, [])
            if not args.no_build:
                started = time.perf_counter()
                outcome = asyncio.run(load_catalogue(settings, size, args.rows_per_product, bar))
                print(f"\n  {outcome} ({time.perf_counter() - started:.0f} s wall)")
                notes.append(f"demo --products {size:,}: {outcome}")
            if not args.skip_check:
                seconds, products, rows, found = asyncio.run(full_check(url))
                notes.append(f"full self-check: {products:,} products, {rows:,} rows in {seconds:.1f} s "
                             f"({rows / seconds:,.0f} rows/s), {found} anomalies")  # fmt: skip
            with (
                serving(url) as server,
                httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as client,
            ):
                results[size] = {what: timed(client, path, params, args.repeats) for what, path, params in REPORTS
                                 if args.only in what}  # fmt: skip
                if not args.skip_export:
                    count, seconds, size_bytes = export_rate(client)
                    notes.append(f"CSV export: {count:,} rows, {size_bytes / 2**20:,.0f} MiB in {seconds:.1f} s = "
                                 f"{count / seconds:,.0f} rows/s (target >= {EXPORT_TARGET:,})")  # fmt: skip
        print(
            f"\n## reports, median / max ms over {args.repeats} requests (target <= {REPORT_TARGET_MS} ms); "
            "bytes and items of the answer"
        )
        header = "".join(f"{n:>34,}" for n in sizes)
        print(f"{'report':<38}{header}   (products)")
        for what, _, _ in REPORTS:
            if args.only not in what:
                continue
            cells = []
            for size in sizes:
                median, worst, size_bytes, items = results[size][what]
                flag = "" if median <= REPORT_TARGET_MS else " !"
                cells.append(f"{median:7.0f} /{worst:6.0f} ms {size_bytes / 1024:6.0f} KiB {items:5}{flag}")
            print(f"{what:<38}" + "".join(f"{c:>34}" for c in cells))
        for size in sizes:
            for note in extra[size]:
                print(f"[{size:,}] {note}")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
