"""Issue "Speed": Stockroom's hot-product sales and reservations beside the framework's ceiling.

    python -m bench.ceiling [--seconds 10] [--connections 1000] [--warmup 2]

In one run, on the same machine, one app worker each, the same wrk load (bench/sell.lua):
  1. a bare Litestar app on the same uvicorn options (bench/bare_app.py): parse, token lookup, 201;
  2. the same plus one asyncpg `SELECT 1` per request;
  3. Stockroom, committed SELLs of one hot product (counted in the database), then the same from a
     client that sends `Accept-Encoding: gzip`, as most HTTP libraries do by default;
  4. Stockroom, committed reservations of one hot product (bench/reserve.lua).
Each run follows --warmup seconds of the same load, not measured, on the same server (all of them).
Prints requests/s, Python CPU per request of the serving process, and each ratio beside its target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from bench.common import serving, throwaway_database
from bench.sells import seed, sells_committed
from tests.conftest import _free_port

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def wrk(base: str, script: str, seconds: int, connections: int, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(HERE / script), base],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.search(r"WRK requests=(\d+) non2xx=(\d+) errors=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+)", out)
    assert found, out
    keys = ("requests", "non2xx", "errors", "p50_ms", "p99_ms")
    return dict(zip(keys, map(float, found.groups()), strict=True))


def bare(token: str, query_url: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "TOKEN": token, **({"BARE_QUERY_URL": query_url} if query_url else {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port), "--loop", "uvloop",
         "--http", "httptools", "--no-access-log", "--timeout-keep-alive", "5", "--log-level", "warning"],
        cwd=HERE.parent, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.post(f"{base}/api/transactions", content=b"{}", headers={"Authorization": f"Bearer {token}"})
            return process, base
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the bare app did not start")


def measured(pid: int, run) -> tuple[dict[str, float], float]:  # type: ignore[no-untyped-def]
    cpu, started = cpu_seconds(pid), time.perf_counter()
    result = run()
    return result, (cpu_seconds(pid) - cpu), time.perf_counter() - started  # type: ignore[return-value]


async def reservations_committed(url: str, sku: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM reservation r JOIN product p ON p.id = r.product WHERE p.sku = $1", sku))  # fmt: skip
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of the same load, not measured, before each run")
    args = parser.parse_args()

    def warmed(base: str, script: str, env: dict[str, str]) -> None:
        """Every server (the bare ones too) gets the same unmeasured load first: a first run otherwise
        also counts 1,000 connections opening, first look-ups of the token and SKU, and the pool filling."""
        if args.warmup:
            wrk(base, script, args.warmup, args.connections, env)

    rows: list[tuple[str, float, float, str]] = []
    with throwaway_database() as url, serving(url, INVENTORY_WORKERS="1") as server:
        token = server.headers["Authorization"].removeprefix("Bearer ")
        for name, query in (("bare Litestar", None), ("bare Litestar + SELECT 1", url)):
            process, base = bare(token, query)
            try:
                warmed(base, "sell.lua", {"TOKEN": token, "HOT_SKU": "x"})
                stats, cpu, elapsed = measured(process.pid, lambda b=base: wrk(
                    b, "sell.lua", args.seconds, args.connections, {"TOKEN": token, "HOT_SKU": "x"}))  # fmt: skip
                ok = stats["requests"] - stats["non2xx"]
                rows.append((name, ok / elapsed, cpu / max(ok, 1) * 1e6, f"p99 {stats['p99_ms']:.0f} ms"))
            finally:
                process.terminate()
                process.wait()
        asyncio.run(seed(url, "CEIL-", 1, 100_000_000))
        warmed(server.url, "sell.lua", {"TOKEN": token, "HOT_SKU": "CEIL-1"})
        before = asyncio.run(sells_committed(url, "CEIL-"))
        stats, cpu, elapsed = measured(server.process.pid, lambda: wrk(
            server.url, "sell.lua", args.seconds, args.connections, {"TOKEN": token, "HOT_SKU": "CEIL-1"}))  # fmt: skip
        sold = asyncio.run(sells_committed(url, "CEIL-")) - before
        rows.append(("Stockroom hot SELL", sold / elapsed, cpu / max(sold, 1) * 1e6, f"p99 {stats['p99_ms']:.0f} ms"))
        before = asyncio.run(sells_committed(url, "CEIL-"))
        stats, cpu, elapsed = measured(server.process.pid, lambda: wrk(
            server.url, "sell.lua", args.seconds, args.connections,
            {"TOKEN": token, "HOT_SKU": "CEIL-1", "ACCEPT_ENCODING": "gzip"}))  # fmt: skip
        sold = asyncio.run(sells_committed(url, "CEIL-")) - before
        rows.append(("  the same, client takes gzip", sold / elapsed, cpu / max(sold, 1) * 1e6,
                     f"p99 {stats['p99_ms']:.0f} ms"))  # fmt: skip
        asyncio.run(seed(url, "CRES-", 1, 100_000_000))
        hot_reserve = {"TOKEN": token, "HOT_SKU": "CRES-1"}
        warmed(server.url, "reserve.lua", {**hot_reserve, "ORDER_PREFIX": "warm"})  # orders of its own
        held_before = asyncio.run(reservations_committed(url, "CRES-1"))
        stats, cpu, elapsed = measured(
            server.process.pid, lambda: wrk(server.url, "reserve.lua", args.seconds, args.connections, hot_reserve)
        )
        held = asyncio.run(reservations_committed(url, "CRES-1")) - held_before
        rows.append(("Stockroom hot reservation", held / elapsed, cpu / max(held, 1) * 1e6,
                     f"p99 {stats['p99_ms']:.0f} ms"))  # fmt: skip
    print(f"wrk -c{args.connections} -d{args.seconds}s, 1 worker each, cores={os.cpu_count()}")
    print(f"{'':<28}{'req/s':>10}{'CPU µs/req':>12}")
    for name, rate, cpu_us, note in rows:
        print(f"{name:<28}{rate:>10.0f}{cpu_us:>12.0f}   {note}")
    rate = {name: r for name, r, _, _ in rows}
    hot = rate["Stockroom hot SELL"]
    for label, value, target in (
        ("hot SELL / bare Litestar", hot / rate["bare Litestar"], 0.6),
        ("hot SELL / bare + SELECT 1", hot / rate["bare Litestar + SELECT 1"], 1.0),
        ("hot reservation / hot SELL", rate["Stockroom hot reservation"] / hot, 0.8),
    ):
        print(f"{label:<28}{value:>10.2f}   target ≥ {target}  {'met' if value >= target else 'NOT met'}")


if __name__ == "__main__":
    main()
