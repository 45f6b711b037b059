"""Benchmark: import of 100,000 transactions (time and peak memory), over HTTP and with the CLI.

    python -m bench.import_csv [--rows 100000] [--products 100]

Writes a CSV in the export's format (BUYs and SELLs spread over N products, a minute apart),
then imports it into a fresh database through `POST /api/import` and, into another fresh
database, with `inventory import FILE`. Peak memory is the server's / CLI's max RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil

from bench.common import serving, throwaway_database

ROOT = Path(__file__).resolve().parent.parent


def write_csv(path: Path, rows: int, products: int) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with path.open("w") as out:
        out.write("external_id,sku,product_name,type,quantity,unit_price,at\n")
        for i in range(rows):
            p = i % products
            name = f"Bench product {p}" if i < products else ""
            at = (start + timedelta(minutes=i)).isoformat()
            if (i // products) % 5 == 0:
                out.write(f"x{i},IMP-{p},{name},BUY,50,{3 + p % 7}.25,{at}\n")
            else:
                out.write(f"x{i},IMP-{p},{name},SELL,10,9.99,{at}\n")


async def new_database(url: str, name: str) -> str:
    conn = await asyncpg.connect(url)
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    return url.replace("/postgres?", f"/{name}?")


def via_http(url: str, path: Path) -> None:
    db = asyncio.run(new_database(url, "bench_http"))
    with serving(db) as server:
        proc = psutil.Process(server.process.pid)
        peak = 0
        started = time.perf_counter()
        with httpx.Client(base_url=server.url, timeout=600, headers=server.headers) as client:
            import threading

            done = threading.Event()

            def watch() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch)
            watcher.start()
            r = client.post("/api/import", content=path.read_bytes(), headers={"content-type": "text/csv"})
            done.set()
            watcher.join()
        elapsed = time.perf_counter() - started
        assert r.status_code == 201, r.text[:500]
        anomalies = httpx.post(
            f"{server.url}/api/reports/anomalies", params={"wait": "true"}, timeout=600, headers=server.headers
        )  # a full self-check, awaited
        anomalies = anomalies.json()["items"]
        print(f"POST /api/import: {r.json()} in {elapsed:.1f} s, server peak RSS {peak / 2**20:.0f} MiB, "
              f"anomalies {len(anomalies)}")  # fmt: skip


def via_cli(url: str, path: Path) -> None:
    db = asyncio.run(new_database(url, "bench_cli"))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "app.cli", "import", str(path)], cwd=ROOT,
                          env={**os.environ, "INVENTORY_DATABASE_URL": db}, capture_output=True, text=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"inventory import: {done.stdout.strip()} in {elapsed:.1f} s, peak RSS {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=100)
    args = parser.parse_args()
    path = Path(tempfile.mkstemp(suffix=".csv")[1])
    write_csv(path, args.rows, args.products)
    print(f"{args.rows:,} rows over {args.products} products, {path.stat().st_size / 2**20:.1f} MiB of CSV")
    with throwaway_database() as url:
        via_http(url, path)
        via_cli(url, path)
    path.unlink()


if __name__ == "__main__":
    main()
