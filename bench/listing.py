"""Benchmark: `GET /api/products` read by many clients at once, and the sales meanwhile.

    python -m bench.listing [--products 6000] [--readers 80] [--seconds 10] [--workers 2]

A new-user trial sent 80 concurrent `GET /api/products` at 6,019 products when the list answered the
whole catalogue (4 MB each): 7 got a 503 and a manager's BUY waited 10.8 s for a pooled connection,
then got a 503 too. The list now answers a page (`limit`, 500 by default, at most 5,000).

Side by side in one run, on one server: single SELLs of another product, one after another on their
own client, with nobody reading (the comparison), then while `--readers` clients each read the
default page over and over, then while they each read pages of 5,000 (the largest page; at 6,000
products about what one answer used to be). Printed: the sales' p50 / p99 / worst and how many failed,
the lists read per second, their size, and any 5xx. Target: no 5xx, sales p99 ≤ 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from bench.common import serving, throwaway_database
from bench.sells import seed


async def _sales(base: str, headers: dict[str, str], sku: str, until: float) -> tuple[list[float], int]:
    """SELLs of one unit, one after another, until `until`: each one's answer time, and the failures."""
    times, failed = [], 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            r = await client.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1,
                                                             "unit_price": "2.00"})  # fmt: skip
            times.append(time.monotonic() - started)
            failed += r.status_code != 201
            await asyncio.sleep(0.05)
    return times, failed


async def _reader(base: str, headers: dict[str, str], limit: int | None, until: float, seen: dict[str, int]) -> None:
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
        while time.monotonic() < until:
            r = await client.get("/api/products", params={"limit": limit} if limit else None)
            seen["lists"] += 1
            seen["bytes"] += len(r.content)
            seen["5xx"] += r.status_code >= 500


async def _round(base: str, headers: dict[str, str], sku: str, seconds: float, readers: int,
                 limit: int | None) -> dict[str, float]:  # fmt: skip
    until = time.monotonic() + seconds
    seen = {"lists": 0, "bytes": 0, "5xx": 0}
    reading = [_reader(base, headers, limit, until, seen) for _ in range(readers)]
    (times, failed), *_ = await asyncio.gather(_sales(base, headers, sku, until), *reading)
    times.sort()
    return {
        "p50_ms": statistics.median(times) * 1000, "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
        "max_ms": times[-1] * 1000, "sales": len(times), "failed": failed, "lists_per_s": seen["lists"] / seconds,
        "kb_per_list": seen["bytes"] / max(1, seen["lists"]) / 1024, "list_5xx": seen["5xx"],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=6000)
    parser.add_argument("--readers", type=int, default=80)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with throwaway_database() as url:
        asyncio.run(seed(url, "LIST-", args.products, 1000))
        asyncio.run(seed(url, "ZSOLD-", 1, 1_000_000))
        with serving(url, INVENTORY_WORKERS=str(args.workers)) as server:
            headers = server.headers  # type: ignore[attr-defined]
            rounds = [("nobody reading (comparison)", 0, None), (f"{args.readers} readers, default page", args.readers,
                      None), (f"{args.readers} readers, pages of 5,000", args.readers, 5000)]  # fmt: skip
            print(f"## {args.products:,} products, {args.workers} workers, {args.seconds:g} s a round")
            print("| while | sales p50 / p99 / max ms (≤ 1,000) | sales failed | lists/s | KiB a list | list 5xx |")
            print("|---|---|---|---|---|---|")
            for label, readers, limit in rounds:
                r = asyncio.run(_round(server.url, headers, "ZSOLD-1", args.seconds, readers, limit))
                print(f"| {label} | {r['p50_ms']:.0f} / {r['p99_ms']:.0f} / {r['max_ms']:.0f} | {r['failed']:.0f} "
                      f"of {r['sales']:.0f} | {r['lists_per_s']:.0f} | {r['kb_per_list']:.0f} | {r['list_5xx']:.0f} |",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
