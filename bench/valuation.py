"""Issue 13: the valuation report (`GET /api/reports/valuation`) at 1,000 and at 50,000 products.

    python -m bench.valuation

Products are seeded with one SQL statement (a BUY each); the report is timed over HTTP, 5 runs,
and its size printed; target ≤ 2 s at 50,000 products.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx

from bench.common import serving, throwaway_database
from bench.sells import seed


def main() -> None:
    with throwaway_database() as url, serving(url) as server:
        for count, prefix in ((1_000, "VA-"), (49_000, "VB-")):
            asyncio.run(seed(url, prefix, count, 100))
            times = []
            for _ in range(5):
                started = time.perf_counter()
                r = httpx.get(f"{server.url}/api/reports/valuation", headers=server.headers, timeout=120)
                times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
            shown = len(r.json()["items"])
            print(f"valuation of {shown:,} products: median {statistics.median(times) * 1000:.0f} ms "
                  f"(min {min(times) * 1000:.0f}), {len(r.content) / 1024:,.0f} KiB; target <= 2,000 ms")  # fmt: skip


if __name__ == "__main__":
    main()
