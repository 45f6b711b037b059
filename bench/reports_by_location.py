"""Issue 15: the reports with `?location=` beside the same reports without, on one catalogue.

    python -m bench.reports_by_location [--products 5000] [--rows-per-product 100] [--data-dir DIR] [--repeats 5]

The demo's catalogue (bench.reports' build), then a store: one product in two gets a TRANSFER of a
few units from MAIN to it, one in ten a min_stock there. Each report is timed over HTTP (one app
process, `--repeats` sequential requests after a warm-up, median and max ms) without a location, at
MAIN (whose past stock is the total less the others') and at the store, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx

from app.services.demo import load_catalogue
from app.settings import Settings
from bench.common import serving
from bench.reports import Params, bar, cluster, reuse_admin, timed

STORE = "BENCH-STORE"
MONTH_AGO = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
REPORTS: list[tuple[str, str, dict[str, object]]] = [
    ("summary", "/api/reports/summary", {}),
    ("low-stock", "/api/reports/low-stock", {}),
    ("out-of-stock", "/api/reports/out-of-stock", {}),
    ("needs-count", "/api/reports/needs-count", {}),
    ("movers (30 d, top 20)", "/api/reports/movers", {}),
    ("movers (365 d, slowest 20)", "/api/reports/movers", {"days": 365, "order": "slow"}),
    ("by-category", "/api/reports/by-category", {}),
    ("valuation (now)", "/api/reports/valuation", {}),
    ("valuation (30 days ago)", "/api/reports/valuation", {"at": MONTH_AGO}),
    ("valuation (30 days ago), page 5", "/api/reports/valuation", {"at": MONTH_AGO, "page": 5, "per": 500}),
    ("replenishment", "/api/reports/replenishment", {}),
]


async def with_a_store(base_url: str, headers: dict[str, str]) -> None:
    """The store, a transfer to it of one product in two (from MAIN, what it has there, up to 3 units),
    and a min_stock there of one in ten; skipped when the store has stock already."""
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=600) as api:
        made = await api.post("/api/locations", json={"code": STORE, "name": "Bench store"})
        assert made.status_code in (201, 409), made.text
        if (await api.get(f"/api/locations/{STORE}/stock", params={"limit": 1})).json()["items"]:
            return
        at_main: list[tuple[str, int]] = []
        after = None
        while True:
            page = (await api.get("/api/locations/MAIN/stock", params={"limit": 5000, "after": after} if after else
                                  {"limit": 5000})).json()  # fmt: skip
            at_main += [(x["sku"], x["on_hand"]) for x in page["items"]]
            if not (after := page["next"]):
                break
        gate = asyncio.Semaphore(8)

        async def move(sku: str, on_hand: int, n: int) -> None:
            async with gate:
                if on_hand > 0:
                    moved = {"sku": sku, "type": "TRANSFER", "quantity": min(3, on_hand), "to_location": STORE}
                    r = await api.post("/api/transactions", json=moved)
                    assert r.status_code == 201, r.text
                if n % 5 == 0:
                    r = await api.put(f"/api/products/{sku}/locations/{STORE}", json={"min_stock": 10})
                    assert r.status_code == 200, r.text

        await asyncio.gather(*(move(sku, on_hand, n) for n, (sku, on_hand) in enumerate(at_main[::2])))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--rows-per-product", type=int, default=100)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"cores={os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the start")
    with cluster(args.data_dir) as url:
        settings = replace(Settings.from_env(), database_url=url)
        reuse_admin(url)
        print(f"\n  {asyncio.run(load_catalogue(settings, args.products, args.rows_per_product, bar))}")
        with serving(url) as server, httpx.Client(base_url=server.url, headers=server.headers, timeout=600) as client:
            asyncio.run(with_a_store(server.url, server.headers))  # type: ignore[attr-defined]
            print(f"\n## {args.products:,} products, median / max ms over {args.repeats} requests, items answered")
            print(f"{'report':<34}{'no location':>24}{'MAIN':>24}{STORE:>24}")
            for what, path, params in REPORTS:
                cells = []
                for where in (None, "MAIN", STORE):
                    asked: Params = params if where is None else {**params, "location": where}
                    median, worst, _, items = timed(client, path, asked, args.repeats)
                    cells.append(f"{median:6.0f} /{worst:5.0f} ms {items:5}")
                print(f"{what:<34}" + "".join(f"{c:>24}" for c in cells))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
