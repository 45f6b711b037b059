"""The busy routes' JSON answer sends what Litestar's own `Response` would for the same content, and
its times read as `isoformat` writes them."""

import asyncio
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar import Response

from app.persistence.audit_document import iso
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


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 30, 12, 0, 1, 123456, tzinfo=UTC),
        datetime(2026, 11, 30, 12, 0, 1, tzinfo=UTC),  # no fraction: none is written
        datetime(2026, 11, 30, 12, 0, 1, 1000, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2))),  # not UTC: isoformat's own
        datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    ],
)
def test_a_time_is_written_as_isoformat_writes_it(moment: datetime) -> None:
    assert iso(moment) == moment.isoformat()


def test_random_utc_times_are_written_as_isoformat_writes_them() -> None:
    rng = random.Random(12)
    for _ in range(10_000):
        moment = datetime(1, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(315_537_897_600_000_000))
        moment = moment.replace(microsecond=0) if rng.random() < 0.3 else moment
        assert iso(moment) == moment.isoformat()
