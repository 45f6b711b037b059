"""Every input limit of SPEC §2 is a 400 naming the field, and changes nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.helpers import make_product, new_sku, record, summary

pytestmark = pytest.mark.integration

BAD_TRANSACTIONS = [
    ("zero quantity", {"quantity": 0}, "quantity"),
    ("negative quantity", {"quantity": -2}, "quantity"),
    ("fractional quantity", {"quantity": 1.5}, "quantity"),
    ("huge quantity", {"quantity": 1_000_000_000}, "quantity"),
    ("textual quantity", {"quantity": "many"}, "quantity"),
    ("boolean quantity", {"quantity": True}, "quantity"),
    ("NaN price", {"unit_price": "NaN"}, "unit_price"),
    ("Infinity price", {"unit_price": "Infinity"}, "unit_price"),
    ("non-numeric price", {"unit_price": "12,50"}, "unit_price"),
    ("five decimals", {"unit_price": "1.00001"}, "unit_price"),
    ("negative price", {"unit_price": "-1"}, "unit_price"),
    ("huge price", {"unit_price": "1000000000"}, "unit_price"),
    ("exponent price", {"unit_price": "1e3"}, "unit_price"),
    ("missing price", {"unit_price": None}, "unit_price"),
    ("future time", {"at": "FUTURE"}, "at"),
    ("garbled time", {"at": "yesterday"}, "at"),
    ("unknown type", {"type": "GIFT"}, "type"),
    ("over-long note", {"note": "x" * 501}, "note"),
    ("reason on a SELL", {"reason": "damage"}, "reason"),
    ("unknown field", {"colour": "red"}, "colour"),
    ("full-width digits", {"quantity": "１２"}, "quantity"),
    ("Arabic-Indic digits", {"unit_price": "١٢.٥"}, "unit_price"),
    ("1899 in UTC", {"at": "1900-01-01T00:00:00+14:00"}, "at"),
    ("nanoseconds", {"at": "2026-01-01T00:00:00.123456789+00:00"}, "at"),
    ("NUL in a note", {"note": "a\x00b"}, "note"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_TRANSACTIONS, ids=[c[0] for c in BAD_TRANSACTIONS])
async def test_a_bad_transaction_field_is_named_and_nothing_is_recorded(api, case, change, field):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    body = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2.00", **change}
    if body.get("at") == "FUTURE":
        body["at"] = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    r = await api.post("/api/transactions", json=body)
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["extra"]["errors"]] == [field]
    assert field in r.json()["detail"]
    assert (await summary(api, sku))["transaction_count"] == 1


async def test_adjust_needs_a_reason_and_takes_a_cost_only_when_adding(api):
    sku = await make_product(api)
    r = await api.post("/api/transactions", json={"sku": sku, "type": "ADJUST", "quantity": -1, "unit_price": "1.00"})
    fields = {e["field"] for e in r.json()["extra"]["errors"]}
    assert r.status_code == 400 and fields == {"reason", "unit_price"}


async def test_a_count_takes_zero_but_no_price(api):
    sku = await make_product(api)
    assert (await record(api, sku, "COUNT", 0))["stock_after"] == 0
    r = await api.post("/api/transactions", json={"sku": sku, "type": "COUNT", "quantity": 3, "unit_price": "1"})
    assert r.status_code == 400 and r.json()["extra"]["errors"][0]["field"] == "unit_price"


async def test_a_time_within_five_minutes_ahead_is_accepted(api):
    sku = await make_product(api)
    soon = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    assert (await record(api, sku, "BUY", 1, "1", at=soon))["at"] == soon


async def test_unknown_sku_and_transaction_are_404(api):
    r = await api.post("/api/transactions", json={"sku": "NOPE-404", "type": "BUY", "quantity": 1, "unit_price": "1"})
    assert r.status_code == 404 and "NOPE-404" in r.json()["detail"]
    assert (await api.get("/api/products/NOPE-404")).status_code == 404
    assert (await api.patch("/api/transactions/999999999", json={"note": "x"})).status_code == 404
    assert (await api.delete("/api/transactions/999999999")).status_code == 404


async def test_malformed_json_is_400(api):
    r = await api.post("/api/transactions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["extra"]["errors"][0]["field"] == "body"
    r = await api.post("/api/transactions", content=b'{"sku": "A", "type": "BUY", "quantity": 1, "unit_price": NaN}')
    assert r.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "-starts-with-dash", "name": "x"}, "sku"),
        ({"sku": "has space", "name": "x"}, "sku"),
        ({"sku": "x" * 65, "name": "x"}, "sku"),
        ({"sku": "OK-1", "name": "   "}, "name"),
        ({"sku": "OK-1", "name": "n" * 201}, "name"),
        ({"sku": "OK-1", "name": "x", "low_stock_threshold": -1}, "low_stock_threshold"),
        ({"sku": "OK-1", "name": "x", "overstock_threshold": 0}, "overstock_threshold"),
        ({"sku": "OK-1", "name": "x", "count_interval_days": 0}, "count_interval_days"),
        ({"sku": "OK-1", "name": "x", "low_stock_threshold": "１２"}, "low_stock_threshold"),
        ({"sku": "OK-1\n", "name": "x"}, "sku"),
    ],
)
async def test_a_bad_product_field_is_named(api, body, field):
    r = await api.post("/api/products", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["extra"]["errors"][0]["field"] == field


async def test_product_names_are_trimmed_and_nfc_normalised_and_skus_unique(api):
    sku = new_sku()
    r = await api.post("/api/products", json={"sku": sku, "name": "  Cafe\u0301 crème  ", "category": "Coffee"})
    assert r.json()["name"] == "Caf\u00e9 crème"
    assert (await api.post("/api/products", json={"sku": sku, "name": "again"})).status_code == 409


async def test_product_settings_change_but_the_sku_does_not(api):
    sku = await make_product(api, low_stock_threshold=2)
    await record(api, sku, "BUY", 2, "1.00")
    assert (await summary(api, sku))["status"] == "low"
    r = await api.patch(f"/api/products/{sku}", json={"low_stock_threshold": 1, "brand": "Acme"})
    assert (r.json()["status"], r.json()["brand"]) == ("ok", "Acme")
    r = await api.patch(f"/api/products/{sku}", json={"brand": None, "overstock_threshold": 10})
    assert (r.json()["brand"], r.json()["overstock_threshold"]) == (None, 10)
    r = await api.patch(f"/api/products/{sku}", json={"sku": "OTHER"})
    assert r.status_code == 400 and r.json()["extra"]["errors"] == [
        {"field": "sku", "message": "cannot be changed (a product keeps its SKU)"}
    ]


async def test_products_list_filters_by_text_category_and_status(api):
    tag = new_sku("F")
    a = await make_product(api, sku=f"{tag}-a", category=tag, low_stock_threshold=5)
    await make_product(api, sku=f"{tag}-b", category=tag)
    await record(api, a, "BUY", 3, "1.00")
    items = (await api.get("/api/products", params={"category": tag})).json()["items"]
    assert sorted(i["sku"] for i in items) == [f"{tag}-a", f"{tag}-b"]
    low = (await api.get("/api/products", params={"q": tag, "status": "low"})).json()["items"]
    assert [i["sku"] for i in low] == [a]
    out = (await api.get("/api/products", params={"q": tag, "status": "out"})).json()["items"]
    assert [i["sku"] for i in out] == [f"{tag}-b"]


async def test_the_products_list_comes_a_page_at_a_time_by_sku_with_its_total(api):
    tag = new_sku("P")
    skus = [await make_product(api, sku=f"{tag}-{i}", category=tag) for i in range(5)]
    seen, after, pages = [], None, 0
    while True:
        r = await api.get("/api/products", params={"category": tag, "limit": 2, **({"after": after} if after else {})})
        body = r.json()
        assert r.status_code == 200 and body["total"] == 5 and len(body["items"]) <= 2
        seen += [i["sku"] for i in body["items"]]
        pages += 1
        if (after := body["next"]) is None:
            break
    assert (seen, pages) == (sorted(skus), 3)
    everything = (await api.get("/api/products", params={"q": tag})).json()
    assert (len(everything["items"]), everything["next"]) == (5, None)


async def test_a_products_list_with_an_unknown_status_or_a_bad_limit_is_refused_by_name(api):
    r = await api.get("/api/products", params={"status": "zzz"})
    assert r.status_code == 400
    assert r.json()["extra"]["errors"] == [{"field": "status", "message": "must be one of ok, low, out"}]
    for limit in ("0", "5001", "x"):
        r = await api.get("/api/products", params={"limit": limit})
        assert r.status_code == 400 and "limit" in r.text, r.text


async def test_the_openapi_schema_lists_the_api(api):
    schema = (await api.get("/schema/openapi.json")).json()
    assert "/api/transactions" in schema["paths"] and "/api/products/{sku}/monthly" in schema["paths"]


# --- text that cannot be stored, numbers that are not plain, JSON that is ambiguous (issue 9) ----------

JSON = {"content-type": "application/json"}
UNSTORABLE = {"lone high surrogate": "x\ud800", "lone low surrogate": "\udfff", "NUL": "a\x00b"}


def _raw(body: object) -> bytes:
    """JSON as any client may send it: json.dumps writes a lone surrogate as \ud800 (httpx's json= cannot)."""
    return json.dumps(body).encode()


@pytest.mark.parametrize("bad", UNSTORABLE.values(), ids=UNSTORABLE.keys())
async def test_text_that_cannot_be_stored_is_a_400_naming_the_field_and_changes_nothing(api, bad):
    sku = await make_product(api)
    bought = await record(api, sku, "BUY", 5, "1.00")
    attempts = [
        ("POST", "/api/transactions", {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2", "note": bad},
         "note"),
        ("POST", "/api/reservations", {"sku": sku, "quantity": 1, "order_ref": bad}, "order_ref"),
        ("POST", "/api/products", {"sku": new_sku(), "name": bad}, "name"),
        ("POST", "/api/products", {"sku": new_sku(), "name": "n", "category": bad}, "category"),
        ("POST", "/api/products", {"sku": new_sku(), "name": "n", "brand": bad}, "brand"),
        ("PATCH", f"/api/products/{sku}", {"name": bad}, "name"),
        ("PATCH", f"/api/transactions/{bought['id']}", {"note": bad}, "note"),
    ]  # fmt: skip
    for method, path, body, field in attempts:
        r = await api.request(method, path, content=_raw(body), headers=JSON)
        assert r.status_code == 400, (method, path, r.text)
        assert [e["field"] for e in r.json()["extra"]["errors"]] == [field], r.text
    after = await summary(api, sku)
    assert (after["transaction_count"], after["reserved"], after["name"]) == (1, 0, f"Product {sku}")


async def test_one_unstorable_note_among_concurrent_sales_fails_only_itself(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 30, "1.00")
    bodies = [{"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2", "note": f"n{i}"} for i in range(20)]
    bodies[7]["note"] = "x\ud800"
    answers = await asyncio.gather(*(api.post("/api/transactions", content=_raw(b), headers=JSON) for b in bodies))
    assert [r.status_code for r in answers] == [400 if i == 7 else 201 for i in range(20)]
    assert (await summary(api, sku))["on_hand"] == 11


NUL_PARAMETERS = [
    ("/api/products?q=a%00b", "q"),
    ("/api/products?category=a%00b", "category"),
    ("/api/products?status=a%00b", "status"),
    ("/api/products/a%00b", "sku"),
    ("/api/products/a%00b/transactions", "sku"),
    ("/api/products/a%00b/monthly", "sku"),
    ("/api/reservations?sku=a%00b", "sku"),
    ("/api/reports/low%00stock", "name"),
    ("/api/transactions.csv?sku=%00", "sku"),
    ("/events?sku=a%00b", "sku"),
    ("/reports/monthly?sku=%00", "sku"),
    ("/products/a%00b", "sku"),
]


@pytest.mark.parametrize(("url", "field"), NUL_PARAMETERS, ids=[u for u, _ in NUL_PARAMETERS])
async def test_a_nul_in_a_query_or_path_parameter_is_a_400_naming_it(api, url, field):
    r = await api.get(url, timeout=10)
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["extra"]["errors"]] == [field]


TOO_LARGE = "9223372036854775808"  # 2**63: past bigint


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("DELETE", f"/api/transactions/{TOO_LARGE}", "tx_id"),
        ("PATCH", f"/api/transactions/{TOO_LARGE}", "tx_id"),
        ("POST", f"/api/reservations/{TOO_LARGE}/confirm", "reservation_id"),
        ("POST", f"/api/reservations/{TOO_LARGE}/cancel", "reservation_id"),
        ("GET", f"/api/products/SKU/transactions?offset={TOO_LARGE}", "offset"),
        ("GET", f"/api/products/SKU/transactions?offset=1{'0' * 5000}", "offset"),
        ("GET", f"/products/SKU?page_no={TOO_LARGE}", "page_no"),
        ("GET", f"/transactions/new?done={TOO_LARGE}", "done"),
        ("GET", f"/transactions/-{TOO_LARGE}/row", "tx_id"),
    ],
)
async def test_an_integer_in_the_url_past_what_a_client_can_hold_is_a_400_naming_it(api, method, url, field):
    sku = await make_product(api)
    body = {"unit_price": "1"} if url.endswith("confirm") else {"note": "x"} if method == "PATCH" else None
    r = await api.request(method, url.replace("SKU", sku), json=body)
    assert r.status_code == 400, r.text
    assert [e["field"] for e in r.json()["extra"]["errors"]] == [field]


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/products?limit=2&limit=3", "limit"),
        ("/api/products/SKU/transactions?offset=0&limit=5&offset=1", "offset"),
        ("/api/transactions.csv?sku=SKU&sku=OTHER", "sku"),
        ("/products/SKU?page_no=1&page_no=2", "page_no"),
    ],
)
async def test_a_parameter_taken_once_given_twice_is_a_400_naming_it(api, url, field):
    sku = await make_product(api)
    r = await api.get(url.replace("SKU", sku), headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 400, r.text
    assert [(e["field"], e["message"]) for e in r.json()["extra"]["errors"]] == [
        (field, "is given more than once (send it once)")
    ]


async def test_a_parameter_no_route_reads_may_come_twice(api):
    r = await api.get("/api/products?limit=2&utm_source=a&utm_source=b")
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) <= 2


async def test_the_largest_id_a_client_can_hold_is_simply_not_found(api):
    assert (await api.delete(f"/api/transactions/{2**53 - 1}")).status_code == 404
    assert (await api.get("/api/products", params={"q": TOO_LARGE})).status_code == 200  # text stays text


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("path", ["/api/transactions", "/api/products", "/api/reservations"])
async def test_json_nested_far_too_deep_is_a_400_naming_the_body(api, path, depth):
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        r = await api.post(path, content=body.encode(), headers=JSON)
        assert r.status_code == 400, r.text
        assert [e["field"] for e in r.json()["extra"]["errors"]] == ["body"]


async def test_a_key_given_twice_is_a_400_naming_it_and_records_nothing(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    body = f'{{"sku": "{sku}", "type": "SELL", "quantity": 1, "unit_price": "2.00", "type": "BUY"}}'
    r = await api.post("/api/transactions", content=body.encode(), headers=JSON)
    assert r.status_code == 400, r.text
    assert r.json()["extra"]["errors"] == [{"field": "type", "message": "is given more than once"}]
    assert (await summary(api, sku))["transaction_count"] == 1


async def test_a_negative_zero_price_is_plain_zero(api):
    sku = await make_product(api)
    bought = await record(api, sku, "BUY", 5, "-0")
    sold = await record(api, sku, "SELL", 2, "-0.00")
    assert (bought["unit_price"], sold["unit_price"], sold["revenue"], sold["realized_pl"]) == (
        "0.0000", "0.0000", "0.00", "0.00"
    )  # fmt: skip
    assert (await summary(api, sku))["revenue"] == "0.00"


async def test_a_form_idempotency_key_that_cannot_be_stored_is_a_400(api):
    sku = await make_product(api)
    form = {"sku": sku, "type": "BUY", "quantity": "1", "unit_price": "1", "idempotency_key": "a\x00b"}
    r = await api.post("/transactions/new", data=form)
    assert r.status_code == 400, r.text[:500]
    assert r.json()["extra"]["errors"][0]["field"] == "idempotency_key"
    assert (await summary(api, sku))["transaction_count"] == 0


@pytest.mark.parametrize("written", ["１２", "١٢", "1_2", "12%20", "%2012"])
async def test_an_id_in_the_path_is_written_with_ascii_digits_only(api, written):
    r = await api.delete(f"/api/transactions/{written}", params={"dry_run": "true"})
    assert r.status_code == 400 and "tx_id" in r.text, r.text


@pytest.mark.parametrize(
    ("method", "url", "field", "says"),
    [
        ("POST", "/api/transactions?dry_run=maybe", "dry_run", "must be true or false"),
        ("DELETE", "/api/transactions/12?dry_run=perhaps", "dry_run", "must be true or false"),
        ("GET", "/api/products/SKU/transactions?limit=many", "limit", "must be a whole number"),
        ("GET", "/api/products/SKU/transactions?limit=100000", "limit", "must be at most 5000"),
        ("GET", "/api/products/SKU/transactions?limit=0", "limit", "must be at least 1"),
    ],
)
async def test_a_parameter_litestar_refuses_is_a_400_in_the_api_s_one_shape(api, method, url, field, says):
    """Litestar converts declared parameters itself; its refusal reads like every other 400."""
    sku = await make_product(api)
    body = {"sku": sku, "type": "BUY", "quantity": 1, "unit_price": "1"} if method == "POST" else None
    r = await api.request(method, url.replace("SKU", sku), json=body)
    assert r.status_code == 400, r.text
    assert r.json()["extra"] == {"errors": [{"field": field, "message": says}]}
    assert r.json()["detail"] == f"Invalid input: {field}: {says}"
    assert (await summary(api, sku))["transaction_count"] == 0
