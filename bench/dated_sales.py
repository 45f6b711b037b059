"""Sales that go into a hot product's past, beside sales that do not, in one run (issue 12's trial).

    python -m bench.dated_sales [--burst 600] [--tail-seconds 5] [--rounds 3]

A product sells undated for --tail-seconds under wrk (1,000 connections), so its last seconds hold
thousands of rows; then --burst concurrent SELLs, each dated 0-10 s back (an order system sending its
order's time), and as many undated ones: each burst's wall time and p50/max latency. Then the same
with one SELL dated 4 minutes ahead on another product, which puts every undated sale into its past.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx

from bench.ceiling import wrk
from bench.common import serving, throwaway_database
from bench.sells import seed


async def burst(url: str, headers: dict[str, str], sku: str, dates: list[str | None]) -> tuple[float, float, float]:
    """Every sale at once; the burst's wall time, its median and its longest answer, in seconds."""
    limits = httpx.Limits(max_connections=len(dates), max_keepalive_connections=len(dates))
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300, limits=limits) as client:

        async def sell(at: str | None) -> float:
            body: dict[str, object] = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "9.99"}
            started = time.perf_counter()
            r = await client.post("/api/transactions", json=body | ({"at": at} if at else {}))
            assert r.status_code == 201, r.text
            return time.perf_counter() - started

        started = time.perf_counter()
        took = await asyncio.gather(*(sell(at) for at in dates))
        return time.perf_counter() - started, statistics.median(took), max(took)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=600)
    parser.add_argument("--tail-seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(1)
    with throwaway_database() as url, serving(url, INVENTORY_WORKERS="1") as server:
        token = server.headers["Authorization"].removeprefix("Bearer ")
        asyncio.run(seed(url, "DATED-", 2, 100_000_000))
        ahead = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
        later = {"sku": "DATED-2", "type": "SELL", "quantity": 1, "unit_price": "9.99", "at": ahead}
        r = httpx.post(f"{server.url}/api/transactions", headers=server.headers, timeout=30, json=later)
        assert r.status_code == 201, r.text
        print(f"one worker; bursts of {args.burst} concurrent SELLs after {args.tail_seconds} s of wrk on the product")
        print(f"{'round':<7}{'burst':<44}{'wall s':>8}{'p50 s':>8}{'max s':>8}")
        for n in range(1, args.rounds + 1):
            wrk(server.url, "sell.lua", args.tail_seconds, 1000, {"TOKEN": token, "HOT_SKU": "DATED-1"})
            past = [(datetime.now(UTC) - timedelta(seconds=rng.uniform(0, 10))).isoformat() for _ in range(args.burst)]
            for name, sku, dates in (
                ("undated (appended)", "DATED-1", [None] * args.burst),
                ("dated 0-10 s back", "DATED-1", past),
                ("undated, behind a row dated 4 min ahead", "DATED-2", [None] * args.burst),
            ):
                wall, p50, longest = asyncio.run(burst(server.url, server.headers, sku, dates))
                print(f"{n:<7}{name:<44}{wall:>8.2f}{p50:>8.2f}{longest:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
