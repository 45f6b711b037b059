"""What an idempotency key keeps: a typed outcome, decoded exactly as it was, so that every transport
answers a replay as it answered the first request (the REST bodies here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from app.domain.errors import Conflict, KeyReused
from app.domain.ledger import Entry, Figures, Position, Posted
from app.domain.reservations import Status
from app.domain.rules import Reason, TxType
from app.domain.summary import Totals
from app.persistence.audit_document import audit_document
from app.services.catalogue_csv import ImportResult
from app.services.idempotency import Answer, Key, decode, encode
from app.services.outcomes import Change, Confirmed, EarlierAnswer, Held, ProductChange, Refused, Voided
from app.services.records import LedgerRow, ProductRecord, ReservationRecord
from app.web.idempotent import recorded_body, rest_answer
from app.web.views import transaction_view

pytestmark = pytest.mark.unit

KEY = Key("user:1", "k-1", "f" * 64)
BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2026, 11, 23, 11, 0, 0, 123456, tzinfo=BERLIN)  # a time entered in the business zone


def _row(tx_id: int = 77, kind: TxType = TxType.SELL, reason: Reason | None = None) -> LedgerRow:
    entry = Entry(5, AT, kind, 3, Decimal("6.9500"), reason, tx_id)
    figures = Figures(4, Decimal("1.234567"), Decimal("20.85"), Decimal("3.70"), Decimal("17.15"))
    return LedgerRow(Posted(entry, figures), "a note", "TEA-1")


def _product(stock: int = 4) -> ProductRecord:
    return ProductRecord(
        1, "TEA-1", "Green tea", None, "Brand", 5, 100, 30, datetime(2026, 1, 1, tzinfo=UTC),
        Position(stock, Decimal("1.234567")), 2, Totals(Decimal("20.85"), units_out=3), 3, (AT, 5), None,
        AT.astimezone(UTC), False, "4006381333931", Decimal("6.9500"),
    )  # fmt: skip


def _reservation() -> ReservationRecord:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=-5)))
    return ReservationRecord(9, 1, "TEA-1", "ord-1", 2, Status.CONFIRMED, now, now + timedelta(hours=1),
                             now + timedelta(minutes=5), Decimal("3.00"), 77)  # fmt: skip


OUTCOMES = [
    Change(_row(), (ProductChange(_product(7), _product(4)),)),
    Voided(_row(kind=TxType.ADJUST, reason=Reason.DAMAGE), Change(None, (ProductChange(_product(4), _product(7)),))),
    _product(),
    Held(_reservation(), created=True),
    Held(_reservation(), created=False),
    Confirmed(_reservation(), _row()),
    Confirmed(_reservation(), None),
    _reservation(),
    ImportResult(1000, 3, 2),
    Refused("the sale of 6 on Nov 23, 2026 11:00 would leave stock at -2", {"id": 4, "stock_would_be": -2}),
]


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda o: type(o).__name__)
def test_a_kept_outcome_comes_back_equal_and_answers_the_same(outcome: object) -> None:
    back = decode(encode(outcome), type(outcome), KEY)
    assert back == outcome
    assert json.dumps(rest_answer(back)) == json.dumps(rest_answer(outcome))


def test_a_kept_refusal_comes_back_for_any_operation_and_is_raised_as_a_conflict() -> None:
    refused = Refused("nope", {"id": 1})
    back = decode(encode(refused), Change, KEY)
    assert back == refused
    with pytest.raises(Conflict) as raised:
        Answer(back, replayed=True).result()
    assert (raised.value.detail, raised.value.extra) == ("nope", {"id": 1})
    assert rest_answer(back) == (409, {"status_code": 409, "detail": "nope", "extra": {"id": 1}})


def test_an_outcome_of_another_operation_is_a_reused_key() -> None:
    with pytest.raises(KeyReused):
        decode(encode(_product()), Change, KEY)


def test_an_answer_kept_before_outcomes_is_replayed_as_it_was() -> None:
    """What migration 2026-11-30T11:00 makes of a 2xx answer the old code stored."""
    body = {**transaction_view(_row()), "product": {"sku": "TEA-1"}}
    kept = json.dumps({"kind": "EarlierAnswer", "of": {"status_code": 201, "body": body}}).encode()
    back = decode(kept, Change, KEY)
    assert back == EarlierAnswer(201, body)
    assert rest_answer(back) == (201, body)
    assert recorded_body(Answer(back, replayed=True).result()) == body


def test_the_audit_log_keeps_a_row_as_the_api_shows_a_transaction() -> None:
    for row in (_row(), _row(kind=TxType.ADJUST, reason=Reason.DAMAGE)):
        assert json.loads(audit_document(row)) == transaction_view(row)
