"""Benchmark: commit-to-browser latency of live events with 1,000 open streams over two processes.

    python -m bench.events [--streams 1000] [--changes 20]

Opens the streams (half on each `inventory serve` process, each following the product), then
records SELLs one at a time on the first process. For every event a stream receives, latency is
measured from the moment the recording request returned (the commit is before that, so this is a
lower bound) and from the moment it was sent (an upper bound). Prints p50/p99 of both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx

from bench.common import serving, throwaway_database


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def follow(url: str, sku: str, arrivals: dict[int, list[float]], headers: dict[str, str]) -> None:
    """One stream: note when each stock figure arrives."""
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=url, timeout=None, limits=limits, headers=headers) as client, client.stream(
        "GET", "/events", params={"sku": sku}) as response:  # fmt: skip
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:") and kind == "stock":
                on_hand = json.loads(line[5:])["on_hand"]
                arrivals.setdefault(on_hand, []).append(time.monotonic())


async def run(urls: list[str], streams: int, changes: int, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=urls[0], timeout=60, headers=headers) as api:
        sku = "LIVE-1"
        await api.post("/api/products", json={"sku": sku, "name": "Live"})
        await api.post("/api/transactions", json={"sku": sku, "type": "BUY", "quantity": 100_000, "unit_price": "1"})
        arrivals: dict[int, list[float]] = {}
        tasks = [asyncio.create_task(follow(urls[i % 2], sku, arrivals, headers)) for i in range(streams)]
        while len(arrivals.get(100_000, [])) < streams:  # noqa: ASYNC110 - polling what the streams noted
            await asyncio.sleep(0.1)
        print(f"{streams} streams open ({streams // 2} per process), each got the state on connect")
        after_response, after_send = [], []
        for i in range(1, changes + 1):
            sent = time.monotonic()
            r = await api.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2"})
            returned = time.monotonic()
            assert r.status_code == 201, r.text
            expected = 100_000 - i
            deadline = time.monotonic() + 10
            while len(arrivals.get(expected, [])) < streams and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.005)
            got = arrivals.get(expected, [])
            after_response += [max(0.0, t - returned) * 1000 for t in got]
            after_send += [(t - sent) * 1000 for t in got]
            missing = streams - len(got)
            if missing:
                print(f"change {i}: {missing} streams did not receive it within 10 s")
            await asyncio.sleep(0.2)
        for t in tasks:
            t.cancel()
    print(f"{len(after_send)} deliveries: commit→stream latency p50 {pct(after_response, .5):.1f} ms, "
          f"p99 {pct(after_response, .99):.1f} ms (from the recording's response); from its request: "
          f"p50 {pct(after_send, .5):.1f} ms, p99 {pct(after_send, .99):.1f} ms, max {max(after_send):.1f} ms; "
          f"mean {statistics.mean(after_send):.1f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    with throwaway_database() as url, serving(url, INVENTORY_SWEEP_SECONDS="3600") as one, \
            serving(url, INVENTORY_SWEEP_SECONDS="3600") as two:  # fmt: skip
        asyncio.run(run([one.url, two.url], args.streams, args.changes, one.headers))


if __name__ == "__main__":
    main()
