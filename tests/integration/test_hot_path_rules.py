"""The hot path's shortcuts keep every rule (issue 12): a new row after a product's last one is one step
of the fold on the stored end (recompute.append), a sale awaits its answer without asyncio.shield, the
token cache is keyed by the token and bounded. Each test would fail if a shortcut broke a rule the
full path keeps. Real PostgreSQL, real `inventory serve` processes, real HTTP and WebSockets."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import ROOT, bearer, inventory_cli, make_user
from tests.integration.graphql_client import data
from tests.integration.helpers import make_product, record, summary, timeline

pytestmark = pytest.mark.integration

RECORD = """mutation($i: TransactionInput!, $k: String) {
  recordTransaction(input: $i, idempotencyKey: $k) { replayed transaction { id stockAfter } }
}"""
CHECKED = "mutation($s: [String!]!) { updateCheckTime(skus: $s) { success message } }"


def uid() -> str:
    return uuid.uuid4().hex[:8]


async def place(api: httpx.AsyncClient) -> str:
    code = f"HP-{uid()}"
    r = await api.post("/api/locations", json={"code": code, "name": f"Place {code}", "kind": "storage"})
    assert r.status_code == 201, r.text
    return code


async def checked(api: httpx.AsyncClient, sku: str) -> list[dict[str, Any]]:
    """The self-check of one product, now: its stored figures against a full replay of its ledger."""
    r = await api.get("/api/reports/anomalies", params={"sku": sku})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def by_location(product: dict[str, Any]) -> dict[str, int]:
    return {x["location"]: x["on_hand"] for x in product["locations"]}


def at(day: int, hour: int) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:00:00+00:00"


def same_figures(product: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in product.items() if k not in ("sku", "name")}


def rows_as_figures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in ("id", "seq", "sku", "created_at", "recorded_at")} for r in rows]


# --- 1. appended rows give the figures a full replay (and the refold path) gives ---------------------------


async def test_appended_rows_of_every_type_give_the_figures_of_a_refold_and_of_a_replay(api):
    """Every row here is newer than the product's last one (an append, no ledger read); its twin gets the
    same rows each before a later row (a refold), which is then deleted. Both must end with the same
    rows and figures, every location used listed (at 0 too), and the self-check must find nothing."""
    store, shelf = await place(api), await place(api)
    steps: list[dict[str, Any]] = [
        {"type": "BUY", "quantity": 20, "unit_price": "2.00"},
        {"type": "TRANSFER", "quantity": 8, "to_location": store},
        {"type": "SELL", "quantity": 3, "unit_price": "5.00", "location": store},
        {"type": "BUY", "quantity": 10, "unit_price": "3.50"},
        {"type": "ADJUST", "quantity": -2, "reason": "damage"},
        {"type": "ADJUST", "quantity": 4, "reason": "found", "unit_price": "1.25"},
        {"type": "COUNT", "quantity": 30},
        {"type": "TRANSFER", "quantity": 5, "location": store, "to_location": shelf},
        {"type": "SELL", "quantity": 5, "unit_price": "6.00", "location": shelf},  # SHELF back to 0
        {"type": "COUNT", "quantity": 0, "location": store},  # STORE to 0 by a count
        {"type": "SELL", "quantity": 7, "unit_price": "4.00"},
        {"type": "ADJUST", "quantity": 1, "reason": "found"},
    ]
    appended, twin = await make_product(api), await make_product(api)
    for i, step in enumerate(steps):
        when = at(1 + i, 9)
        if i % 3 == 1:  # some through GraphQL: the same service, another transport
            variables = {"i": {"sku": appended, "at": when, **_camel(step)}, "k": None}
            await data(api, RECORD, variables)
        else:
            await record(api, appended, step["type"], step["quantity"], step.get("unit_price"), at=when,
                         **{k: v for k, v in step.items() if k not in ("type", "quantity", "unit_price")})  # fmt: skip
    later = await record(api, twin, "ADJUST", 1, at=at(28, 9), reason="found")  # every twin row is placed before it
    for i, step in enumerate(steps):
        await record(api, twin, step["type"], step["quantity"], step.get("unit_price"), at=at(1 + i, 9),
                     **{k: v for k, v in step.items() if k not in ("type", "quantity", "unit_price")})  # fmt: skip
    assert (await api.delete(f"/api/transactions/{later['id']}")).status_code == 204

    a, b = await summary(api, appended), await summary(api, twin)
    assert same_figures(a) == same_figures(b)
    assert by_location(a) == {"MAIN": 24, store: 0, shelf: 0}  # MAIN counted 30, -7, +1; both others back at 0
    assert a["on_hand"] == 24 and a["transaction_count"] == len(steps)
    assert a["last_sale_at"] == "2026-03-11T09:00:00+00:00" and a["last_counted_at"] == "2026-03-10T09:00:00+00:00"
    assert rows_as_figures(await timeline(api, appended)) == rows_as_figures(await timeline(api, twin))
    assert await checked(api, appended) == [] and await checked(api, twin) == []


def _camel(step: dict[str, Any]) -> dict[str, Any]:
    names = {"unit_price": "unitPrice", "to_location": "toLocation"}
    return {names.get(k, k): v for k, v in step.items()}


async def test_a_now_count_and_sale_appended_set_last_counted_and_last_sale(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 6, "2.00", at=at(2, 9))
    counted = (await data(api, CHECKED, {"s": [sku]}))["updateCheckTime"]  # a COUNT, now, of what is on hand
    assert counted[0]["success"], counted
    sold = await record(api, sku, "SELL", 2, "3.00")
    product = await summary(api, sku)
    rows = await timeline(api, sku)
    count_row = next(r for r in rows if r["type"] == "COUNT")
    assert product["last_counted_at"] == count_row["at"] and product["last_sale_at"] == sold["at"]
    assert (product["on_hand"], product["transaction_count"], product["units_out"]) == (4, 3, 2)
    assert await checked(api, sku) == []


async def test_appends_and_backdated_rows_of_one_product_sent_together_stay_consistent(api):
    """In one batch an append may follow a backdated row of the same product (a refold, which reads the
    rows inserted before it) and precede another: the stored end each starts from must be the latest."""
    sku, store = await make_product(api), await place(api)
    await record(api, sku, "BUY", 40, "2.00", at=at(1, 9))
    await record(api, sku, "TRANSFER", 10, at=at(1, 10), to_location=store)

    def send(body: dict[str, Any]) -> Any:
        return api.post("/api/transactions", json={"sku": sku, **body})

    now_sale = {"type": "SELL", "quantity": 1, "unit_price": "5.00"}
    bodies = [
        now_sale,
        {"type": "BUY", "quantity": 3, "unit_price": "4.00", "at": at(2, 9)},
        {**now_sale, "location": store},
        {"type": "SELL", "quantity": 2, "unit_price": "6.00", "at": at(3, 9), "location": store},
        now_sale,
        {"type": "ADJUST", "quantity": -1, "reason": "damage", "at": at(4, 9)},
        {"type": "TRANSFER", "quantity": 2, "to_location": store},
        {"type": "COUNT", "quantity": 50, "at": at(5, 9), "location": store},  # enough whatever the order
        {**now_sale, "location": store},
    ] * 3
    answers = await asyncio.gather(*[send(b) for b in bodies])
    assert [r.status_code for r in answers] == [201] * len(bodies), [r.text for r in answers if r.status_code != 201]
    product = await summary(api, sku)
    assert product["transaction_count"] == 2 + len(bodies)
    assert sum(by_location(product).values()) == product["on_hand"]
    assert await checked(api, sku) == []


# --- 2. an appended row that breaks a rule is refused alone ---------------------------------------------


async def test_in_one_batch_a_sale_into_stock_held_at_a_location_is_refused_naming_it_and_the_rest_commit(api):
    sku, store = await make_product(api), await place(api)
    await record(api, sku, "BUY", 30, "2.00", at=at(1, 9))
    await record(api, sku, "TRANSFER", 5, at=at(2, 9), to_location=store)
    held = await api.post("/api/reservations", json={"sku": sku, "quantity": 4, "order_ref": uid(), "location": store})
    assert held.status_code == 201, held.text

    def sale(quantity: int, location: str | None = None) -> Any:
        body = {"sku": sku, "type": "SELL", "quantity": quantity, "unit_price": "5.00"}
        return api.post("/api/transactions", json={**body, **({"location": location} if location else {})})

    # sent together: they queue behind one another's commit and share batches
    answers = await asyncio.gather(*[sale(1) for _ in range(10)], sale(2, store), *[sale(1) for _ in range(10)],
                                   sale(6, store), sale(1, store))  # fmt: skip
    statuses = [r.status_code for r in answers]  # they reach the server in any order: each is right in any
    assert statuses[:10] == statuses[11:21] == [201] * 10 and statuses[22] == 201, statuses
    for refused in (answers[10], answers[21]):  # 5 at STORE, 4 held there: 2 leaves 3 (or 2), 6 leaves -1 (or -2)
        assert refused.status_code == 409, refused.text
        assert f"at {store}" in refused.json()["detail"] and refused.json()["extra"]["location"] == store
    assert answers[10].json()["extra"]["reserved"] == 4 and "reserved there" in answers[10].json()["detail"]
    assert answers[21].json()["extra"]["stock_after"] < 0  # the fold's own refusal: below 0 there
    product = await summary(api, sku)
    assert by_location(product) == {"MAIN": 5, store: 4} and product["reserved"] == 4
    assert product["transaction_count"] == 2 + 21
    assert await checked(api, sku) == []


async def test_an_appended_sale_below_what_is_reserved_in_total_is_refused(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "2.00", at=at(1, 9))
    held = await api.post("/api/reservations", json={"sku": sku, "quantity": 3, "order_ref": uid()})
    assert held.status_code == 201, held.text
    r = await api.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 3, "unit_price": "5"})
    assert r.status_code == 409, r.text
    assert r.json()["extra"] == {"sku": sku, "on_hand": 2, "reserved": 3}
    await record(api, sku, "SELL", 2, "5.00")
    assert (await summary(api, sku))["on_hand"] == 3 and await checked(api, sku) == []


async def test_once_a_product_used_several_locations_an_appended_breach_names_the_location_even_when_back_at_0(api):
    sku, store = await make_product(api), await place(api)
    await record(api, sku, "BUY", 4, "2.00", at=at(1, 9))
    await record(api, sku, "TRANSFER", 1, at=at(2, 9), to_location=store)
    await record(api, sku, "SELL", 1, "5.00", at=at(3, 9), location=store)  # STORE now holds 0, still listed
    assert by_location(await summary(api, sku)) == {"MAIN": 3, store: 0}
    r = await api.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 4, "unit_price": "5"})
    assert r.status_code == 409, r.text
    assert "at MAIN" in r.json()["detail"] and r.json()["extra"]["location"] == "MAIN"
    first_use = await api.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1,
                                                          "unit_price": "5", "location": await place(api)})  # fmt: skip
    assert first_use.status_code == 409 and "at HP-" in first_use.json()["detail"]
    form = {"type": "SELL", "quantity": "2", "unit_price": "5", "location": store}  # the product page's form
    page = await api.post(f"/products/{sku}/transactions", data=form, headers={"accept": "text/html"})
    assert page.status_code == 409 and f"at {store}" in page.text, page.text[-2000:]
    by_page = await api.post(f"/products/{sku}/transactions", data={**form, "location": "MAIN"})
    assert by_page.status_code == 303
    assert by_location(await summary(api, sku)) == {"MAIN": 1, store: 0}
    assert await checked(api, sku) == []


async def test_an_appended_row_in_a_closed_period_is_refused(api, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00", at="2026-01-05T09:00:00+00:00")
    admin = bearer(tokens["admin"])
    today = datetime.now(UTC).date().isoformat()
    closed = await api.post("/admin/settings", data={"books_closed_through": "2026-01-31"}, headers=admin)
    assert closed.status_code == 303
    try:
        later = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2", "at": "2026-01-20T09:00:00+00:00"}
        r = await api.post("/api/transactions", json=later)  # after the last row (an append), in the closed month
        assert r.status_code == 409, r.text
        assert r.json()["extra"]["books_closed_through"] == "2026-01-31"
        through_graphql = {"sku": sku, "type": "SELL", "quantity": 1, "unitPrice": "2", "at": later["at"]}
        gql = await api.post("/graphql", json={"query": RECORD, "variables": {"i": through_graphql}})
        assert gql.status_code == 200 and "closed through" in gql.json()["errors"][0]["message"], gql.text
        assert (
            await api.post("/admin/settings", data={"books_closed_through": today}, headers=admin)
        ).status_code == 303
        now = await api.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2"})
        assert now.status_code == 409 and now.json()["extra"]["books_closed_through"] == today, now.text
    finally:
        await api.post("/admin/settings", data={"books_closed_through": ""}, headers=admin)
    product = await summary(api, sku)
    assert (product["on_hand"], product["transaction_count"], product["last_sale_at"]) == (10, 1, None)
    await record(api, sku, "SELL", 1, "2.00")  # open again
    assert await checked(api, sku) == []


# --- 3. clients that hang up mid-request on one hot product -------------------------------------------


def _raw_sale(url: str, token: str, sku: str, note: str, reset: bool, whole: bool = True) -> None:
    """A POST sent on a raw socket, which is then closed (with a reset, or a plain close) before any
    answer: the server reads a request whose client is gone (or, not `whole`, half its body)."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "5.00", "note": note}).encode()
    head = (f"POST /api/transactions HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    s = socket.create_connection((host, int(port)))
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.sendall(head.encode() + (body if whole else body[: len(body) // 2]))
    s.close()


async def _ws_sale_then_hang_up(url: str, token: str, sku: str, note: str, wait: float) -> None:
    """A recordTransaction over graphql-transport-ws, the socket closed `wait` s after it was sent: the
    server cancels the operation's task, which may be awaiting its group commit."""
    ws_url = url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"],
                                  additional_headers=bearer(token)) as ws:  # fmt: skip
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        sale = {"sku": sku, "type": "SELL", "quantity": 1, "unitPrice": "5.00", "note": note}
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": RECORD, "variables": {"i": sale, "k": note}}}))  # fmt: skip
        await asyncio.sleep(wait)
    # leaving the block closes the socket, answered or not


async def _settled(api: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    """The product once requests from clients that left are all done (two looks alike, 0.5 s apart)."""
    before = await summary(api, sku)
    for _ in range(40):
        await asyncio.sleep(0.5)
        now = await summary(api, sku)
        if now == before:
            return now
        before = now
    raise AssertionError("the product kept changing")


async def test_two_hundred_buyers_of_whom_half_hang_up_leave_every_committed_sale_consistent(api, server, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 150, "2.00")
    clerk = tokens["clerk"]
    log_start = server.log.stat().st_size
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(clerk),
                                 limits=httpx.Limits(max_connections=100)) as staying:  # fmt: skip

        async def stays(i: int) -> httpx.Response:
            sale = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "5.00", "note": f"stay-{i}"}
            return await staying.post("/api/transactions", json=sale)

        async def gives_up(i: int) -> None:  # an HTTP client whose task is cancelled mid-request
            sale = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "5.00", "note": f"cancelled-{i}"}
            try:
                async with asyncio.timeout((i % 10) * 0.003):
                    await staying.post("/api/transactions", json=sale)
            except TimeoutError:
                pass

        leaving = [loop.run_in_executor(None, _raw_sale, server.url, clerk, sku, f"raw-{i}", i % 2 == 0, i % 3 > 0)
                   for i in range(30)]  # fmt: skip
        leaving += [_ws_sale_then_hang_up(server.url, clerk, sku, f"ws-{i}-{uid()}", (i % 10) * 0.005)
                    for i in range(50)]  # fmt: skip
        leaving += [gives_up(i) for i in range(20)]
        tasks = [stays(i) for i in range(100)]
        everything = [x for pair in zip(tasks, leaving, strict=True) for x in pair]
        answers = await asyncio.gather(*everything, return_exceptions=True)
    stayed = [a for a in answers[0::2]]
    for a in stayed:
        assert isinstance(a, httpx.Response), a
        assert a.status_code in (201, 409), a.text  # no 5xx for those who stayed
        if a.status_code == 409:
            assert "would leave stock" in a.json()["detail"]
    assert not [a for a in answers[1::2] if isinstance(a, Exception)]

    product = await _settled(api, sku)
    rows = [r for r in await timeline(api, sku) if r["type"] == "SELL"]
    notes = [r["note"] for r in rows]
    assert len(notes) == len(set(notes))  # no sale committed twice
    assert {a.json()["id"] for a in stayed if a.status_code == 201} <= {r["id"] for r in rows}
    assert product["on_hand"] == 150 - len(rows) >= 0 and product["transaction_count"] == 1 + len(rows)
    assert await checked(api, sku) == []

    # each WebSocket sale sent again with its key: answered once, from the kept outcome if it committed
    ws_notes = {r["note"] for r in rows if r["note"].startswith("ws-")}
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(clerk)) as again:
        for note in sorted(ws_notes):
            sale = {"sku": sku, "type": "SELL", "quantity": 1, "unitPrice": "5.00", "note": note}
            r = await again.post("/graphql", json={"query": RECORD, "variables": {"i": sale, "k": note}})
            assert r.json()["data"]["recordTransaction"]["replayed"] is True, r.text
    assert (await summary(api, sku)) == product

    assert (await api.get("/healthz")).status_code == 200
    await record(api, sku, "BUY", 1, "2.00")
    await record(api, sku, "SELL", 1, "5.00")
    with server.log.open("rb") as log:
        log.seek(log_start)
        written = log.read().decode(errors="replace")
    for sign in ("Traceback", "InvalidStateError", "never retrieved", "ERROR"):
        assert sign not in written, written[-4000:]


# --- 4. tokens: made-up ones in bulk, revoked ones ------------------------------------------------------


def _resident_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+) kB", status.read()).group(1))  # type: ignore[union-attr]


async def _bogus(client: httpx.AsyncClient, tokens: list[str], at_once: int = 32) -> list[int]:
    statuses: list[int] = []
    for start in range(0, len(tokens), at_once):
        answers = await asyncio.gather(*[client.get("/api/locations", headers=bearer(t))
                                         for t in tokens[start:start + at_once]])  # fmt: skip
        statuses += [a.status_code for a in answers]
    return statuses


async def _bogus_pipelined(url: str, tokens: list[str], connections: int = 8) -> list[int]:
    """The statuses of GET /api/locations with each token, sent pipelined on a few raw keep-alive
    connections (an HTTP client's own work per request would be most of this test's time)."""
    host, port = url.removeprefix("http://").split(":")

    async def one_connection(part: list[str]) -> list[int]:
        reader, writer = await asyncio.open_connection(host, int(port))
        requests = b"".join(f"GET /api/locations HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {t}\r\n\r\n"
                            .encode() for t in part)  # fmt: skip

        async def send() -> None:
            writer.write(requests)
            await writer.drain()

        sending = asyncio.create_task(send())
        statuses = []
        for _ in part:
            head = await reader.readuntil(b"\r\n\r\n")
            statuses.append(int(head.split(b" ", 2)[1]))
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            await reader.readexactly(int(length.group(1)) if length else 0)
        await sending
        writer.close()
        return statuses

    parts = await asyncio.gather(*[one_connection(tokens[i::connections]) for i in range(connections)])
    return [status for part in parts for status in part]


async def test_twenty_thousand_made_up_tokens_lock_no_one_out_and_revoked_tokens_stop(
    server, second_server, tokens, database_url, db
):
    revoked_name, disabled_name = f"hp_{uid()}", f"hp_{uid()}"
    revoked, disabled = make_user(database_url, revoked_name, "clerk"), make_user(database_url, disabled_name, "clerk")
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=32)) as here,
        httpx.AsyncClient(base_url=second_server.url, timeout=60) as there,
    ):
        for client in (here, there):  # cached in both processes now
            for token in (revoked, disabled):
                assert (await client.get("/api/locations", headers=bearer(token))).status_code == 200
        made_up = [f"sr_{secrets.token_urlsafe(32)}" for _ in range(20_000)]  # twice the cache's bound
        assert set(await _bogus_pipelined(server.url, made_up)) == {401}
        for token in (revoked, disabled, tokens["viewer"]):
            assert (await here.get("/api/locations", headers=bearer(token))).status_code == 200
        assert set(await _bogus(here, made_up[-64:] + made_up[:64])) == {401}  # still unknown, cached or not

        # revoked on an admin page of one process; the other hears of it (NOTIFY) or its cache lapses
        token_id = await db.fetchval(
            "SELECT t.id FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE u.username = $1", revoked_name
        )
        page = await there.post(f"/admin/tokens/{token_id}/revoke", headers=bearer(tokens["admin"]))
        assert page.status_code == 303, page.text
        assert (await there.get("/api/locations", headers=bearer(revoked))).status_code == 401
        assert await _refused_within(here, revoked, seconds=6.0)  # TOKEN_CACHE_SECONDS (5) at the most
        # its user deactivated from the shell: every process
        inventory_cli("user", "disable", disabled_name, INVENTORY_DATABASE_URL=database_url)
        assert await _refused_within(here, disabled, seconds=6.0)
        assert await _refused_within(there, disabled, seconds=6.0)
        assert (await here.get("/api/locations", headers=bearer(tokens["viewer"]))).status_code == 200


async def _refused_within(client: httpx.AsyncClient, token: str, *, seconds: float) -> bool:
    """True once the token is refused, looked at every 0.1 s for `seconds` (TOKEN_CACHE_SECONDS is 5)."""
    for _ in range(int(seconds * 10)):
        if (await client.get("/api/locations", headers=bearer(token))).status_code == 401:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_made_up_tokens_of_any_length_do_not_hold_memory(server, tokens):
    """A token cache keyed by the token itself must not keep long made-up ones: 400 of 256 KiB would
    hold 100 MiB until evicted (and 10,000 of them, 2.5 GiB)."""
    pid = server.process.pid
    async with httpx.AsyncClient(base_url=server.url, timeout=60,
                                 limits=httpx.Limits(max_connections=8)) as client:  # fmt: skip
        assert set(await _bogus(client, [f"warm-{i}-" + "x" * 262_144 for i in range(16)], at_once=8)) == {401}
        before = _resident_kib(pid)
        long_ones = [f"{i}-{secrets.token_hex(8)}-" + "x" * 262_144 for i in range(400)]
        assert set(await _bogus(client, long_ones, at_once=8)) == {401}
        grown = _resident_kib(pid) - before
        assert (await client.get("/api/locations", headers=bearer(tokens["clerk"]))).status_code == 200
    assert grown < 40 * 1024, f"the server grew by {grown} KiB"


# --- 5. the collector after start-up ---------------------------------------------------------------------

COLLECTOR = """
import asyncio, gc
from app.services import gc_pause

gc_pause.settle_after_start_up()
assert gc.get_threshold()[0] == gc_pause.YOUNG_THRESHOLD == 100_000, gc.get_threshold()

async def main():
    with gc_pause.gc_paused():  # a refold: its result, 300,000 tuples, alive when the pause ends
        kept = [(i, i) for i in range(300_000)]
    assert not gc.isenabled()
    del kept  # freed: the young generation is back to its usual size
    for _ in range(int(gc_pause.RESUME_AT_THE_LATEST / gc_pause.RESUME_CHECK) + 50):
        if gc.isenabled():
            break
        await asyncio.sleep(gc_pause.RESUME_CHECK)
    assert gc.isenabled() and gc.get_threshold()[0] == 100_000, (gc.isenabled(), gc.get_threshold())
    before = gc.get_stats()[0]["collections"]
    for _ in range(300_000):  # garbage in cycles: young collections still run and free it
        a = []
        a.append(a)
    assert gc.get_stats()[0]["collections"] > before

asyncio.run(main())
print("ok")
"""


def test_after_start_up_the_young_threshold_is_100000_and_the_collector_comes_back_after_a_refold():
    """In a process of its own (the collector is process-wide): the threshold start-up sets, a refold's
    pause that ends with the collector back on (at the latest RESUME_AT_THE_LATEST after it), and young
    collections that still run."""
    done = subprocess.run([sys.executable, "-c", COLLECTOR], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
