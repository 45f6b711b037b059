"""`/schema/openapi.json` documents every API body: a client generated from it records a sale.

The schema is read from a running server (what a client author gets), not built in-process.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, bearer

pytestmark = pytest.mark.integration

# POSTs that act on the resource in their path and read no body.
BODYLESS = {("post", "/api/transactions/{tx_id}/void"), ("post", "/api/reservations/{reservation_id}/cancel"),
            ("post", "/api/reports/anomalies")}  # fmt: skip
# Every API operation can answer a bad parameter, a missing token and an unreachable database.
EVERY_ERROR = ("400", "401", "503")


@pytest.fixture(scope="module")
def openapi(server: Any) -> dict[str, Any]:
    answer = httpx.get(f"{server.url}/schema/openapi.json", timeout=30)
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def _operations(openapi: dict[str, Any], under: tuple[str, ...] = ("/api/", "/events")) -> list[tuple[str, str, Any]]:
    return [
        (method, path, operation)
        for path, item in openapi["paths"].items()
        if path.startswith(under)
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _resolved(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _is_described(openapi: dict[str, Any], schema: dict[str, Any]) -> bool:
    """A schema that says something: a type, properties, or a choice of schemas that each do."""
    schema = _resolved(openapi, schema)
    if choices := schema.get("oneOf") or schema.get("anyOf"):
        return all(_is_described(openapi, choice) for choice in choices)
    if schema.get("type") == "object":
        return bool(schema.get("properties"))
    return "type" in schema


def test_every_operation_declares_its_bodies_and_answers(openapi):  # type: ignore[no-untyped-def]
    operations = _operations(openapi)
    assert len(operations) >= 18, "the schema lost its operations"
    missing: list[str] = []
    for method, path, operation in operations:
        name = f"{method.upper()} {path}"
        if method in ("post", "put", "patch") and (method, path) not in BODYLESS:
            body = operation.get("requestBody", {}).get("content", {})
            if not body or not all(_is_described(openapi, media["schema"]) for media in body.values()):
                missing.append(f"{name}: no request body schema")
        answers = operation["responses"]
        successes = [status for status in answers if status.startswith("2")]
        if not successes:
            missing.append(f"{name}: no success answer")
        for status in successes:
            content = answers[status].get("content")
            if status == "204":
                continue
            if not content or not all(_is_described(openapi, media["schema"]) for media in content.values()):
                missing.append(f"{name}: {status} has no body schema")
        for status in [*EVERY_ERROR, *(s for s in answers if s[0] in "45")]:
            content = answers.get(status, {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            if schema is None or not _is_described(openapi, schema):
                missing.append(f"{name}: {status} has no error body schema")
        if "Retry-After" not in answers.get("503", {}).get("headers", {}):
            missing.append(f"{name}: 503 does not declare Retry-After")
        if method != "get" and "403" not in answers:
            missing.append(f"{name}: a change that a role may be refused declares no 403")
    assert not missing, "\n".join(missing)


def test_errors_and_enums_are_documented(openapi):  # type: ignore[no-untyped-def]
    schemas = openapi["components"]["schemas"]
    assert schemas["TxType"]["enum"] == ["BUY", "SELL", "ADJUST", "COUNT", "TRANSFER"]
    assert "damage" in schemas["Reason"]["enum"]
    assert set(schemas["StockStatus"]["enum"]) == {"out", "low", "ok"}
    assert set(schemas["ReservationStatus"]["enum"]) == {"active", "confirmed", "cancelled", "expired"}
    # A field error names the field; a 409 names the transaction it would break.
    assert set(schemas["FieldProblem"]["required"]) == {"field", "message"}
    assert {"transaction_id", "seq", "type", "at", "stock_before", "stock_after"} <= set(
        schemas["ConflictDetails"]["properties"]
    )
    record = openapi["paths"]["/api/transactions"]["post"]
    assert record["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/ConflictError")
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in record["parameters"])
    # Who may call it.
    assert record["responses"]["403"]["description"].startswith("Only a clerk")
    assert openapi["paths"]["/api/products"]["post"]["responses"]["403"]["description"].startswith("Only a manager")
    # How to authenticate: a bearer token on every operation.
    token = openapi["components"]["securitySchemes"]["token"]
    assert (token["type"], token["scheme"]) == ("http", "bearer")
    assert openapi["security"] == [{"token": []}]
    # Money is a decimal string, never a JSON number.
    new = schemas["NewTransaction"]["properties"]
    assert {"type": "string"} in new["unit_price"]["oneOf"]
    assert schemas["Product"]["properties"]["average_cost"]["type"] == "string"


def _takes_csv(openapi: dict[str, Any], parameter: dict[str, Any]) -> bool:
    schema = _resolved(openapi, parameter.get("schema", {}))
    choices = [schema, *(_resolved(openapi, s) for s in schema.get("oneOf", []))]
    return parameter["name"] == "format" and any("csv" in c.get("enum", []) or c.get("const") == "csv"
                                                 for c in choices)  # fmt: skip


def test_every_operation_taking_format_csv_declares_text_csv(openapi):  # type: ignore[no-untyped-def]
    """A generated client reads the answer by its declared type: a CSV one must say text/csv."""
    taking = [(m, p, op) for m, p, op in _operations(openapi)
              if any(_takes_csv(openapi, q) for q in op.get("parameters", []))]  # fmt: skip
    assert len(taking) >= 10  # every report, the anomalies and the valuation among them
    for method, path, operation in taking:
        ok = operation["responses"]["200"]["content"]
        assert {"application/json", "text/csv"} <= set(ok), (method, path, sorted(ok))
        assert ok["text/csv"]["schema"]["type"] == "string", (method, path)


def _generate_client(openapi_url: str, into: Path) -> Any:
    """openapi-python-client, as a client author would run it, on the served schema."""
    spec = into / "openapi.json"
    spec.write_bytes(httpx.get(openapi_url, timeout=30).content)
    config = into / "config.yml"
    config.write_text("post_hooks: []\npackage_name_override: stockroom_client\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(spec),
         "--output-path", str(into / "stockroom_client"), "--meta", "none", "--config", str(config)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(into))
    try:
        return importlib.import_module("stockroom_client")
    finally:
        sys.path.remove(str(into))


def test_a_generated_client_records_a_sale(server, tokens, tmp_path):  # type: ignore[no-untyped-def]
    client_package = _generate_client(f"{server.url}/schema/openapi.json", tmp_path)
    from stockroom_client.api.products import create_product, get_product  # type: ignore[import-not-found]
    from stockroom_client.api.transactions import record_transaction  # type: ignore[import-not-found]
    from stockroom_client.models import (  # type: ignore[import-not-found]
        NewProduct,
        NewTransaction,
        Product,
        RecordedTransaction,
        StockStatus,
        TxType,
    )

    sku = f"GEN-{uuid.uuid4().hex[:8]}"
    client = client_package.AuthenticatedClient(base_url=server.url, token=tokens["manager"])
    with client:
        made = create_product.sync(client=client, body=NewProduct(sku=sku, name="Generated-client tea"))
        assert isinstance(made, Product) and made.sku == sku
        bought = record_transaction.sync(
            client=client, body=NewTransaction(sku=sku, type_=TxType.BUY, quantity=10, unit_price="2.50")
        )
        assert isinstance(bought, RecordedTransaction), bought
        sold = record_transaction.sync(
            client=client, body=NewTransaction(sku=sku, type_=TxType.SELL, quantity=4, unit_price="6.00")
        )
        assert isinstance(sold, RecordedTransaction), sold
        assert (sold.type_, sold.quantity, sold.revenue, sold.cogs, sold.stock_after) == (
            TxType.SELL, 4, "24.00", "10.00", 6
        )  # fmt: skip
        product = get_product.sync(sku, client=client)
    assert isinstance(product, Product)
    assert (product.on_hand, product.available, product.realized_pl, product.status) == (6, 6, "14.00", StockStatus.OK)
    # The same figures the plain HTTP API gives.
    plain = httpx.get(f"{server.url}/api/products/{sku}", headers=bearer(tokens["viewer"]), timeout=30).json()
    assert plain["realized_pl"] == product.realized_pl and plain["on_hand"] == product.on_hand


def _undocumented(openapi: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "") -> set[str]:
    """Fields of `value` that `schema` does not name (a schema that allows any field names none)."""
    schema = _resolved(openapi, schema)
    branches = schema.get("oneOf") or schema.get("anyOf") or schema.get("allOf")
    if branches:
        fitting = [_undocumented(openapi, branch, value, where) for branch in branches if _fits(openapi, branch, value)]
        return min(fitting, key=len) if fitting else set()
    if isinstance(value, list) and "items" in schema:
        return set().union(*(_undocumented(openapi, schema["items"], item, f"{where}[]") for item in value))
    if not isinstance(value, dict) or "additionalProperties" in schema or "properties" not in schema:
        return set()
    named = schema["properties"]
    found = {f"{where}.{key}" for key in value if key not in named}
    for key, item in value.items():
        if key in named:
            found |= _undocumented(openapi, named[key], item, f"{where}.{key}")
    return found


def _fits(openapi: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    schema = _resolved(openapi, schema)
    kind = schema.get("type")
    if kind == "null":
        return value is None
    if kind == "object" or "properties" in schema:
        return isinstance(value, dict) and set(schema.get("required", ())) <= set(value)
    if kind == "array":
        return isinstance(value, list)
    return value is not None


def test_every_answer_conforms_to_its_declared_schema(server, tokens):  # type: ignore[no-untyped-def]
    """Each operation driven to its answers (successes, dry runs, replays, conflicts, field errors,
    no token, a refused role, a reused key), every body checked against the schema declared for its
    status: what schemathesis's random input rarely reaches (a sale needs a product with stock)."""
    import schemathesis

    from app.services.reports import REPORTS

    schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    checked: set[tuple[str, str, int]] = set()
    undocumented: set[str] = set()

    def call(method: str, path: str, template: str, token: str = tokens["admin"], **kwargs: Any) -> httpx.Response:
        answer = httpx.request(method, f"{server.url}{path}", headers=bearer(token) | kwargs.pop("headers", {}),
                               timeout=30, **kwargs)  # fmt: skip
        schema[template][method].validate_response(answer)  # raises naming the first mismatch
        declared = schema.raw_schema["paths"][template][method.lower()]["responses"][str(answer.status_code)]
        if answer.headers.get("content-type", "").startswith("application/json"):
            body_schema = declared["content"]["application/json"]["schema"]
            undocumented.update(f"{method} {template} {answer.status_code}: {field}"
                                for field in _undocumented(schema.raw_schema, body_schema, answer.json()))  # fmt: skip
        checked.add((method, template, answer.status_code))
        return answer

    sku = f"DOC-{uuid.uuid4().hex[:8]}"
    one = "/api/products/{sku}"
    tx = "/api/transactions/{tx_id}"
    assert call("POST", "/api/products", "/api/products", json={"sku": sku, "name": "Tea", "category": "Tea",
                                                                 "sell_price": "6.00"}).status_code == 201  # fmt: skip
    assert call("POST", "/api/products", "/api/products", json={"sku": sku, "name": "Tea"}).status_code == 409
    assert call("POST", "/api/products", "/api/products", json={"sku": "", "price": 1}).status_code == 400
    assert call("GET", "/api/products", "/api/products", params={"q": sku}).status_code == 200
    assert call("PATCH", f"/api/products/{sku}", one, json={"low_stock_threshold": 2}).status_code == 200
    assert call("GET", f"/api/products/{sku}", one).status_code == 200
    huge = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    assert call("POST", "/api/products", "/api/products", content=huge).status_code == 413
    assert call("GET", "/api/products/NO-SUCH-SKU", one).status_code == 404
    assert call("GET", f"/api/products/{sku}", one, token="not-a-token").status_code == 401

    record = "/api/transactions"
    buy = {"sku": sku, "type": "BUY", "quantity": 10, "unit_price": "2.50", "at": "2026-01-05T09:00:00+00:00"}
    bought = call("POST", record, record, json=buy, headers={"Idempotency-Key": f"buy-{sku}"})
    assert bought.status_code == 201
    replayed = call("POST", record, record, json=buy, headers={"Idempotency-Key": f"buy-{sku}"})
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    other = {**buy, "quantity": 11}
    assert call("POST", record, record, json=other, headers={"Idempotency-Key": f"buy-{sku}"}).status_code == 422
    sale = {"sku": sku, "type": "SELL", "quantity": 4, "unit_price": "6.00"}
    assert call("POST", record, record, params={"dry_run": "true"}, json=sale).status_code == 200
    sold = call("POST", record, record, json=sale)
    assert sold.status_code == 201
    too_many = call("POST", record, record, json={**sale, "quantity": 50})
    assert too_many.status_code == 409 and too_many.json()["extra"]["stock_before"] == 6
    # A backdated sale that would leave a later one short names that later transaction.
    early = {**sale, "quantity": 7, "at": "2026-01-05T10:00:00+00:00"}
    assert call("POST", record, record, json=early).json()["extra"]["transaction_id"] == sold.json()["id"]
    assert call("POST", record, record, json={"sku": sku, "type": "SELL"}).status_code == 400
    assert call("POST", record, record, json=sale, token=tokens["viewer"]).status_code == 403
    assert call("POST", record, record, json={**sale, "sku": "NO-SUCH-SKU"}).status_code == 404
    sale_id = sold.json()["id"]
    edit = {"quantity": 3}
    assert call("PATCH", f"/api/transactions/{sale_id}", tx, params={"dry_run": "true"}, json=edit).status_code == 200
    assert call("PATCH", f"/api/transactions/{sale_id}", tx, json=edit).status_code == 200
    assert call("PATCH", f"/api/transactions/{sale_id}", tx, json={"quantity": 99}).status_code == 409
    assert call("PATCH", "/api/transactions/999999999", tx, json=edit).status_code == 404
    assert call("GET", f"/api/products/{sku}/transactions", f"{one}/transactions").status_code == 200
    assert call("GET", f"/api/products/{sku}/monthly", f"{one}/monthly").status_code == 200

    reserve = "/api/reservations"
    hold = {"sku": sku, "quantity": 2, "order_ref": f"order-{sku}"}
    held = call("POST", reserve, reserve, json=hold)
    assert held.status_code == 201
    assert call("POST", reserve, reserve, json=hold).status_code == 200
    assert call("POST", reserve, reserve, json={**hold, "order_ref": "x", "quantity": 500}).status_code == 409
    confirm = "/api/reservations/{reservation_id}/confirm"
    held_id = held.json()["id"]
    confirmed = call("POST", f"/api/reservations/{held_id}/confirm", confirm, json={"unit_price": "6.00"})
    assert confirmed.status_code == 200
    assert call("POST", f"/api/reservations/{held_id}/confirm", confirm, json={}).status_code == 400
    cancel = "/api/reservations/{reservation_id}/cancel"
    assert call("POST", f"/api/reservations/{held_id}/cancel", cancel).status_code == 409
    second = call("POST", reserve, reserve, json={**hold, "order_ref": f"second-{sku}", "quantity": 1}).json()
    assert call("POST", f"/api/reservations/{second['id']}/cancel", cancel).status_code == 200
    assert call("POST", "/api/reservations/999999999/cancel", cancel).status_code == 404
    assert call("GET", reserve, reserve, params={"sku": sku}).status_code == 200

    void = "/api/transactions/{tx_id}/void"
    assert call("POST", f"/api/transactions/{sale_id}/void", void).status_code == 200
    assert call("POST", f"/api/transactions/{sale_id}/void", void).status_code == 404
    buy_id = bought.json()["id"]
    assert call("DELETE", f"/api/transactions/{buy_id}", tx, params={"dry_run": "true"}).status_code == 409
    confirmed_sale = f"/api/transactions/{confirmed.json()['transaction']['id']}"
    assert call("DELETE", confirmed_sale, tx, params={"dry_run": "true"}).status_code == 200
    assert call("DELETE", confirmed_sale, tx).status_code == 204

    for name in REPORTS:  # each report is an operation of its own, with its own body
        assert call("GET", f"/api/reports/{name}", f"/api/reports/{name}").status_code == 200, name
    assert call("GET", "/api/reports/movers", "/api/reports/movers", params={"days": 0}).status_code == 400
    assert call("GET", "/api/reports/summary", "/api/reports/summary", params={"at": "x"}).status_code == 400
    assert httpx.get(f"{server.url}/api/reports/no-such-report", headers=bearer(tokens["admin"])).status_code == 404
    check = "/api/reports/anomalies"
    assert call("POST", check, check, params={"wait": "true"}).status_code == 200
    assert call("POST", check, check).status_code == 202
    assert call("POST", check, check, token=tokens["viewer"]).status_code == 403
    assert call("GET", check, check, params={"sku": sku}).status_code == 200
    assert call("GET", "/api/transactions.csv", "/api/transactions.csv", params={"sku": sku}).status_code == 200
    assert call("GET", "/api/transactions.csv", "/api/transactions.csv", params={"start": "x"}).status_code == 400

    upload = "/api/import"
    csv_body = f"external_id,sku,type,quantity,unit_price,at\nimp-{sku},{sku},BUY,5,3.00,2026-02-05T09:00:00+00:00\n"
    text = {"content-type": "text/csv"}
    assert call("POST", upload, upload, content=csv_body.encode(), headers=text).status_code == 201
    assert call("POST", upload, upload, content=b"external_id,sku\nx,\n", headers=text).status_code == 400
    places = "/api/locations"
    place = f"LOC-{sku[4:]}"
    assert call("POST", places, places, json={"code": place, "name": "Back room"}).status_code == 201
    assert call("POST", places, places, json={"code": place, "name": "Again"}).status_code == 409
    assert call("POST", places, places, json={"code": "bad code", "name": ""}).status_code == 400
    assert call("GET", places, places).status_code == 200
    one_place = "/api/locations/{code}"
    assert call("PATCH", f"{places}/{place}", one_place, json={"kind": "transit"}).status_code == 200
    assert call("PATCH", f"{places}/NO-SUCH-PLACE", one_place, json={"name": "x"}).status_code == 404
    assert call("GET", f"{places}/MAIN/stock", f"{one_place}/stock").status_code == 200
    assert call("GET", f"{places}/NO-SUCH-PLACE/stock", f"{one_place}/stock").status_code == 404
    hint, here = "/api/products/{sku}/locations/{code}", {"location": "MAIN"}
    assert call("PUT", f"/api/products/{sku}/locations/MAIN", hint, json={"min_stock": 50}).status_code == 200
    assert call("PUT", f"/api/products/{sku}/locations/{place}", hint, json={"min_stock": -1}).status_code == 400
    assert call("PUT", f"/api/products/{sku}/locations/NO-SUCH-PLACE", hint, json={"min_stock": 1}).status_code == 404
    for name in REPORTS:  # with a location: the figures there
        assert call("GET", f"/api/reports/{name}", f"/api/reports/{name}", params=here).status_code == 200, name
    low = "/api/reports/low-stock"
    assert call("GET", low, low, params={"location": "NO-SUCH-PLACE"}).status_code == 400
    assert not undocumented, "fields the schema does not name:\n" + "\n".join(sorted(undocumented))
    succeeded = {(method.lower(), path) for method, path, status in checked if status < 300}
    assert succeeded == {(method, path) for method, path, _ in _operations(schema.raw_schema, under=("/api/",))}


@pytest.mark.parametrize("path", ["/api/products", "/api/transactions", "/api/reservations"])
def test_an_empty_body_is_read_as_an_empty_object(server, tokens, path):  # type: ignore[no-untyped-def]
    """As before the bodies were declared: no body, or only whitespace, is `{}` (every required field named)."""
    answers = [
        httpx.post(f"{server.url}{path}", content=body, headers=bearer(tokens["admin"]), timeout=30)
        for body in (b"", b" \n", b"{}")
    ]
    assert [a.status_code for a in answers] == [400, 400, 400]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert "is required" in answers[0].json()["detail"]
