"""GraphQL `reserveStock` beside the REST reservation, in one run: committed reservations per second
of one hot product, the same wrk load on the same app process (issue 14's benchmark).

    python -m bench.graphql_reserve [--seconds 10] [--connections 200] [--workers 1]

Needs `wrk`. Reservations are counted in the database, not from wrk's answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from bench.ceiling import measured, reservations_committed, wrk
from bench.common import serving, throwaway_database
from bench.sells import seed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    rows: list[tuple[str, float, float, float]] = []
    with throwaway_database() as url, serving(url, INVENTORY_WORKERS=str(args.workers)) as server:
        token = server.headers["Authorization"].removeprefix("Bearer ")
        asyncio.run(seed(url, "GQLR-", 2, 100_000_000))
        for name, script, sku in (("REST POST /api/reservations", "reserve.lua", "GQLR-1"),
                                  ("GraphQL reserveStock", "reserve_graphql.lua", "GQLR-2")):  # fmt: skip
            stats, _cpu, elapsed = measured(  # type: ignore[misc]
                server.process.pid, lambda s=script, k=sku: wrk(server.url, s, args.seconds, args.connections,
                                                               {"TOKEN": token, "HOT_SKU": k})  # fmt: skip
            )
            held = asyncio.run(reservations_committed(url, sku))
            rows.append((name, held / elapsed, stats["p50_ms"], stats["p99_ms"]))
    print(f"wrk -c{args.connections} -d{args.seconds}s, {args.workers} worker(s), cores={os.cpu_count()}, hot product")
    print(f"{'':<30}{'held/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, rate, p50, p99 in rows:
        print(f"{name:<30}{rate:>10.0f}{p50:>10.1f}{p99:>10.1f}")
    print(f"GraphQL / REST: {rows[1][1] / rows[0][1]:.2f}")


if __name__ == "__main__":
    main()
