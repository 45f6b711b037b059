"""A product's barcode (EAN-13, UPC-A, EAN-8, check digit validated, unique) and sell price,
through the API, the CSV import/export and the settings page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from tests.integration.helpers import check_digit, gtin, make_product, new_sku, summary

pytestmark = pytest.mark.integration
HTML = {"accept": "text/html"}


def wrong_check(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def errors_of(r) -> dict[str, str]:
    return {e["field"]: e["message"] for e in r.json()["extra"]["errors"]}


def test_the_test_codes_are_real_ones():
    # Published examples: an EAN-13, a UPC-A and an EAN-8.
    assert [check_digit(c[:-1]) == c[-1] for c in ("4006381333931", "036000291452", "96385074")] == [True] * 3


@pytest.mark.parametrize("length", [13, 12, 8], ids=["EAN-13", "UPC-A", "EAN-8"])
async def test_a_product_takes_a_valid_barcode_and_a_sell_price(api, length):
    code = gtin(length)
    sku = await make_product(api, barcode=code, sell_price="6.95")
    shown = await summary(api, sku)
    assert shown["barcode"] == code
    assert isinstance(shown["sell_price"], str) and Decimal(shown["sell_price"]) == Decimal("6.95")
    listed = (await api.get("/api/products", params={"q": sku})).json()["items"]
    assert [(p["barcode"], Decimal(p["sell_price"])) for p in listed] == [(code, Decimal("6.95"))]


async def test_both_are_optional_and_a_patch_sets_changes_and_clears_them(api):
    sku = await make_product(api)
    assert ((await summary(api, sku))["barcode"], (await summary(api, sku))["sell_price"]) == (None, None)
    code = gtin(13)
    r = await api.patch(f"/api/products/{sku}", json={"barcode": code, "sell_price": "2.5"})
    assert r.status_code == 200, r.text
    assert (r.json()["barcode"], Decimal(r.json()["sell_price"])) == (code, Decimal("2.5"))
    r = await api.patch(f"/api/products/{sku}", json={"name": "renamed"})  # untouched by other changes
    assert (r.json()["barcode"], Decimal(r.json()["sell_price"])) == (code, Decimal("2.5"))
    r = await api.patch(f"/api/products/{sku}", json={"barcode": None, "sell_price": None})
    assert (r.json()["barcode"], r.json()["sell_price"]) == (None, None)
    again = await make_product(api, barcode=code)  # a cleared code is free again
    assert (await summary(api, again))["barcode"] == code


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(wrong_check(gtin(13)), id="EAN-13 wrong check digit"),
        pytest.param(wrong_check(gtin(12)), id="UPC-A wrong check digit"),
        pytest.param(wrong_check(gtin(8)), id="EAN-8 wrong check digit"),
        pytest.param("12345", id="too short"),
        pytest.param("40063813339310", id="14 digits"),
        pytest.param("40063813339a1", id="a letter"),
        pytest.param("４００６３８１３３３９３１", id="wide digits"),
        pytest.param(4006381333931, id="a JSON number"),
    ],
)
async def test_a_bad_barcode_is_a_400_naming_the_field(api, bad):
    sku = new_sku()
    r = await api.post("/api/products", json={"sku": sku, "name": "bad code", "barcode": bad})
    assert r.status_code == 400, r.text
    assert list(errors_of(r)) == ["barcode"] and "known field" not in errors_of(r)["barcode"]
    assert (await api.get(f"/api/products/{sku}")).status_code == 404
    existing = await make_product(api)
    r = await api.patch(f"/api/products/{existing}", json={"barcode": bad})
    assert r.status_code == 400 and list(errors_of(r)) == ["barcode"]


async def test_a_wrong_check_digit_says_which_digit_was_expected(api):
    code = gtin(13)
    r = await api.post("/api/products", json={"sku": new_sku(), "name": "x", "barcode": wrong_check(code)})
    assert f"check digit should be {code[-1]}" in errors_of(r)["barcode"]


async def test_a_barcode_already_in_use_is_a_409_naming_the_field_and_its_product(api):
    code = gtin(13)
    first = await make_product(api, barcode=code)
    r = await api.post("/api/products", json={"sku": new_sku(), "name": "copy", "barcode": code})
    assert r.status_code == 409, r.text
    assert r.json()["extra"]["field"] == "barcode" and first in r.json()["detail"]
    other = await make_product(api)
    r = await api.patch(f"/api/products/{other}", json={"barcode": code})
    assert r.status_code == 409 and r.json()["extra"]["field"] == "barcode"
    assert (await summary(api, other))["barcode"] is None
    r = await api.patch(f"/api/products/{first}", json={"barcode": code, "name": "same code again"})
    assert r.status_code == 200  # its own code is no conflict


async def test_a_upc_a_and_the_same_code_as_an_ean13_are_one_barcode(api):
    upc = gtin(12)
    await make_product(api, barcode=upc)
    r = await api.post("/api/products", json={"sku": new_sku(), "name": "same GTIN", "barcode": "0" + upc})
    assert r.status_code == 409 and r.json()["extra"]["field"] == "barcode"


@pytest.mark.parametrize(
    ("price", "accepted"),
    [
        ("0", True),
        ("6.95", True),
        ("999999999.9999", True),
        ("0.0001", True),
        ("-0.01", False),
        ("1.23456", False),
        ("1000000000", False),
        ("1e3", False),
        ("NaN", False),
        ("", True),  # empty is "none"
        (True, False),
    ],
)
async def test_sell_price_bounds(api, price, accepted):
    sku = new_sku()
    r = await api.post("/api/products", json={"sku": sku, "name": "priced", "sell_price": price})
    if accepted:
        assert r.status_code == 201, r.text
        assert r.json()["sell_price"] is None if price == "" else Decimal(r.json()["sell_price"]) == Decimal(price)
    else:
        assert r.status_code == 400 and list(errors_of(r)) == ["sell_price"], r.text
        assert "known field" not in errors_of(r)["sell_price"]


async def test_a_json_number_sell_price_is_kept_exactly(api):
    raw = b'{"sku": "%s", "name": "exact", "sell_price": 0.1}' % new_sku().encode()
    r = await api.post("/api/products", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 201 and r.json()["sell_price"] == "0.10"


# --- CSV ------------------------------------------------------------------------------------


HEADER = "external_id,sku,product_name,type,quantity,unit_price,at,barcode,sell_price\n"


async def test_an_import_creates_products_with_barcode_and_sell_price_and_the_export_carries_them(api):
    sku, code = new_sku("CSV"), gtin(8)
    body = HEADER + f"e-{sku},{sku},Scanned tea,BUY,5,1.20,2026-01-02T09:00:00+00:00,{code},3.50\n"
    r = await api.post("/api/import", content=body.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text
    shown = await summary(api, sku)
    assert (shown["barcode"], Decimal(shown["sell_price"])) == (code, Decimal("3.50"))
    exported = list(csv.DictReader(io.StringIO((await api.get("/api/transactions.csv", params={"sku": sku})).text)))
    assert [(x["barcode"], Decimal(x["sell_price"])) for x in exported] == [(code, Decimal("3.50"))]
    assert exported[0]["sku"] == sku and exported[0]["type"] == "BUY"


async def test_an_import_names_each_bad_barcode_and_price_by_line_and_imports_nothing(api):
    a, b, c = new_sku("CSV"), new_sku("CSV"), new_sku("CSV")
    shared = gtin(13)
    body = (
        HEADER
        + f"e-{a},{a},Bad code,BUY,1,1.00,2026-01-02T09:00:00+00:00,{wrong_check(gtin(13))},1.00\n"
        + f"e-{b},{b},Bad price,BUY,1,1.00,2026-01-02T09:00:00+00:00,,-2\n"
        + f"e-{c},{c},Twice,BUY,1,1.00,2026-01-02T09:00:00+00:00,{shared},\n"
        + f"e2-{c},{c}-2,Twice again,BUY,1,1.00,2026-01-02T09:00:00+00:00,{shared},\n"
    )
    r = await api.post("/api/import", content=body.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 400, r.text
    named = {(e["line"], e["field"]) for e in r.json()["extra"]["errors"]}
    assert named == {(2, "barcode"), (3, "sell_price"), (5, "barcode")}
    for sku in (a, b, c):
        assert (await api.get(f"/api/products/{sku}")).status_code == 404


async def test_an_import_of_a_barcode_another_product_has_is_a_409(api):
    code = gtin(12)
    owner = await make_product(api, barcode=code)
    sku = new_sku("CSV")
    body = HEADER + f"e-{sku},{sku},Clash,BUY,1,1.00,2026-01-02T09:00:00+00:00,{code},\n"
    r = await api.post("/api/import", content=body.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 409, r.text
    assert r.json()["extra"]["field"] == "barcode" and owner in r.json()["detail"] and "line 2" in r.json()["detail"]
    assert (await api.get(f"/api/products/{sku}")).status_code == 404


# --- the product form -----------------------------------------------------------------------


async def test_the_product_form_shows_and_saves_both_fields(api):
    sku = await make_product(api)
    form = (await api.get(f"/products/{sku}/settings", headers=HTML)).text
    assert 'name="barcode"' in form and 'name="sell_price"' in form
    code = gtin(13)
    fields = {"name": "Form tea", "low_stock_threshold": "0", "count_interval_days": "30", "barcode": code,
              "sell_price": "4.25"}  # fmt: skip
    r = await api.post(f"/products/{sku}/settings", data=fields, headers=HTML)
    assert r.status_code == 303, r.text
    assert ((await summary(api, sku))["barcode"], Decimal((await summary(api, sku))["sell_price"])) == (
        code, Decimal("4.25"))  # fmt: skip
    form = (await api.get(f"/products/{sku}/settings", headers=HTML)).text
    assert f'value="{code}"' in form and 'value="4.25"' in form
    r = await api.post(f"/products/{sku}/settings", data={**fields, "barcode": wrong_check(code)}, headers=HTML)
    assert r.status_code == 400
    assert "check digit" in r.text
    r = await api.post(f"/products/{sku}/settings", data={**fields, "barcode": "", "sell_price": ""}, headers=HTML)
    assert r.status_code == 303
    assert ((await summary(api, sku))["barcode"], (await summary(api, sku))["sell_price"]) == (None, None)


async def test_a_new_product_from_the_form_takes_both_fields(api):
    sku, code = new_sku("FORM"), gtin(8)
    r = await api.post("/products/new", data={"sku": sku, "name": "New scanned", "barcode": code,
                                              "sell_price": "1.99"}, headers=HTML)  # fmt: skip
    assert r.status_code == 303, r.text
    assert (await summary(api, sku))["barcode"] == code
    r = await api.post("/products/new", data={"sku": new_sku("FORM"), "name": "Clash", "barcode": code}, headers=HTML)
    assert r.status_code == 409 or (r.status_code == 400 and "barcode" in r.text)
    assert "already" in r.text


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/transactions/new", {"type": "SELL", "quantity": "1", "unit_price": "2.50"}),
        ("/transfers/new", {"quantity": "1", "location": "MAIN", "to_location": "SCAN-ROOM"}),
        ("/reservations", {"quantity": "1", "order_ref": "PHONE-1"}),
    ],
)
async def test_a_misread_scan_on_a_form_is_named_a_wrong_check_digit_not_an_unknown_product(api, path, fields):
    sku, code = await make_product(api), gtin(13)
    assert (await api.patch(f"/api/products/{sku}", json={"barcode": code})).status_code == 200
    made = await api.post("/api/locations", json={"code": "SCAN-ROOM", "name": "Back room", "kind": "storage"})
    assert made.status_code in (201, 409), made.text  # the transfer form needs a second place
    misread = wrong_check(code)
    r = await api.post(path, data={"sku": misread, **fields}, headers=HTML)
    assert r.status_code == 400, r.text
    assert f"check digit should be {code[-1]}, not {misread[-1]}" in r.text
    after = await summary(api, sku)
    assert (after["transaction_count"], after["reserved"]) == (0, 0)


async def test_the_counter_suggestions_name_a_misread_scan(api):
    code = gtin(13)
    r = await api.get("/transactions/suggest", params={"sku": wrong_check(code)}, headers=HTML)
    assert r.status_code == 200
    assert f"is not a valid EAN-13: its check digit should be {code[-1]}" in r.text
    r = await api.get("/transactions/suggest", params={"sku": "no-such-thing-at-all"}, headers=HTML)
    assert "No product has a SKU, barcode or name with" in r.text
