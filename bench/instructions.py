"""Issue "Speed": instructions per request of the hot routes, in-process, beside the bare app's.

    python -m bench.instructions [--route sale|confirm|bare ...] [--few 250] [--many 1250]

Timings on these machines swing ±20 % between minutes, more than most single changes save; an
instruction count repeats within about 2 %. Each route is driven in-process (the app's ASGI callable,
no HTTP server, 250 concurrent tasks, after 250 requests of warm-up) under
`valgrind --tool=cachegrind --cache-sim=no`, once with --few requests and once with --many; the
difference over (many − few) is the cost of one request, start-up and warm-up cancelling out.

Not counted: HTTP (uvicorn and the kernel add the same to every route; under valgrind the app's
timers would fire ~50× more often per request, so an HTTP count is not comparable) and PostgreSQL's
own work. Needs Debian's `valgrind`; a run takes a few minutes.

Routes: `sale` (POST /api/transactions, a SELL of one hot product), `confirm` (POST
/api/reservations/{id}/confirm of holds made in the database beforehand, each once), `bare` (the
bare Litestar app of bench/bare_app.py, which the hot-sale target is measured against).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
from typing import Any

from bench.common import admin_token, throwaway_database
from bench.sells import seed

SKU = "CEIL-1"
TASKS = 250
SALE = b'{"sku":"CEIL-1","type":"SELL","quantity":1,"unit_price":"9.99"}'
CONFIRM = b'{"unit_price":"9.99"}'


async def _drive(app: Any, token: str, route: str, count: int, first_hold: int) -> dict[int, int]:
    """`count` requests of `route` after TASKS of warm-up, TASKS at a time; the statuses answered."""
    to_lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await to_lifespan.put({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, to_lifespan.get, from_lifespan.put)
    )
    started = await from_lifespan.get()
    assert started["type"] == "lifespan.startup.complete", started
    body = CONFIRM if route == "confirm" else SALE
    bearer = f"Bearer {token}".encode()
    headers = [(b"host", b"bench"), (b"content-type", b"application/json"), (b"authorization", bearer),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    holds = iter(range(first_hold, first_hold + 10**9))
    statuses: dict[int, int] = {}

    async def one() -> None:
        path = f"/api/reservations/{next(holds)}/confirm" if route == "confirm" else "/api/transactions"
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": headers, "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000),
                 "state": {}}  # fmt: skip
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect: the answer is awaited
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    await asyncio.gather(*(worker(1) for _ in range(TASKS)))  # warm-up
    await asyncio.gather(*(worker(count // TASKS) for _ in range(TASKS)))
    await to_lifespan.put({"type": "lifespan.shutdown"})
    await lifespan
    return statuses


def _one_run(route: str, count: int) -> None:
    """In the child process valgrind runs: a throwaway database, the app, `count` requests."""
    import uvloop

    from bench.ceiling import holds_to_confirm

    with throwaway_database() as url:
        token = admin_token(url)
        asyncio.run(seed(url, "CEIL-", 1, 100_000_000))
        first_hold = asyncio.run(holds_to_confirm(url, SKU, count + TASKS))[0] if route == "confirm" else 0
        os.environ["INVENTORY_DATABASE_URL"] = url
        if route == "bare":
            os.environ["TOKEN"] = token
            from bench.bare_app import app
        else:
            from app.web.app import create_app

            app = create_app()
        statuses = uvloop.run(_drive(app, token, route, count, first_hold))
    wanted = {"sale": 201, "confirm": 200, "bare": 201}[route]
    assert statuses == {wanted: count + TASKS}, statuses
    print("STATUSES", statuses, flush=True)


def _instructions(route: str, count: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, "-m", "bench.instructions", "--child", route, str(count)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "STATUSES" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    assert found, out.stderr[-2000:]
    return int(found.group(1).replace(",", ""))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _one_run(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--route", action="append", choices=["sale", "confirm", "bare"])
    parser.add_argument("--few", type=int, default=250)
    parser.add_argument("--many", type=int, default=1250)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("needs valgrind (apt install valgrind)")
    per_request = {}
    for route in args.route or ["bare", "sale", "confirm"]:
        few, many = _instructions(route, args.few), _instructions(route, args.many)
        per_request[route] = (many - few) / (args.many - args.few)
        print(f"{route:8} {per_request[route] / 1000:8.0f}k instructions per request", flush=True)
    if "bare" in per_request:
        for route in ("sale", "confirm"):
            if route in per_request:
                print(f"{route} / bare: {per_request[route] / per_request['bare']:.2f}× the bare app's instructions")
    if "sale" in per_request and "confirm" in per_request:
        print(f"confirm / sale: {per_request['confirm'] / per_request['sale']:.2f}×")


if __name__ == "__main__":
    main()
