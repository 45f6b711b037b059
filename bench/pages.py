"""Benchmark: the dashboard with 1,000 products (server time per render, and pages/s under load).

    python -m bench.pages [--products 1000] [--renders 50]

Needs `wrk` for the throughput line (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import time

import httpx

from bench.common import serving, throwaway_database
from bench.sells import seed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()
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
