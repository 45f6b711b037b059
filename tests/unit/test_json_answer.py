"""The busy routes' JSON answer sends what Litestar's own `Response` would for the same content."""

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from litestar import Response

from app.web.json_answer import JsonAnswer

pytestmark = pytest.mark.unit

CONTENT = {"id": 1, "unit_price": Decimal("9.99"), "note": None, "product": {"sku": "É-1", "locations": []}}


def sent(app: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("an answer reads nothing")

    async def send(message: Any) -> None:
        messages.append(message)

    asyncio.run(app({"type": "http"}, receive, send))
    return messages


def test_a_json_answer_sends_the_status_headers_and_body_litestar_would() -> None:
    ours = sent(JsonAnswer(CONTENT, 201, {"Idempotent-Replayed": "true"}))
    theirs = sent(
        Response(CONTENT, status_code=201, headers={"Idempotent-Replayed": "true"}).to_asgi_response(None, None)  # type: ignore[arg-type]
    )
    assert ours[1] == theirs[1]  # the same body
    assert ours[0]["status"] == theirs[0]["status"] == 201
    assert sorted(ours[0]["headers"]) == sorted(theirs[0]["headers"])  # the same headers (in another order)
    assert dict(ours[0]["headers"]) == {
        b"content-type": b"application/json",
        b"content-length": str(len(ours[1]["body"])).encode(),
        b"idempotent-replayed": b"true",
    }


def test_a_json_answer_without_extra_headers_has_its_type_and_length_only() -> None:
    start, body = sent(JsonAnswer([1, "two"], 200))
    assert start["headers"] == [(b"content-type", b"application/json"), (b"content-length", b"9")]
    assert body == {"type": "http.response.body", "body": b'[1,"two"]', "more_body": False}
