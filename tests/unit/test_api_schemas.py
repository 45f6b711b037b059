"""The documented API bodies stay in step with the rules that read them."""

from __future__ import annotations

import pytest

from app.domain.reservations import Status as HoldStatus
from app.domain.summary import Status
from app.intake.requests import PRODUCT_FIELDS, RESERVATION_FIELDS, TRANSACTION_FIELDS
from app.web.api import schemas

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("documented", "read"),
    [
        (schemas.NewProduct, PRODUCT_FIELDS),
        (schemas.ProductPatch, PRODUCT_FIELDS),
        (schemas.NewTransaction, TRANSACTION_FIELDS),
        (schemas.TransactionPatch, TRANSACTION_FIELDS),
        (schemas.NewReservation, RESERVATION_FIELDS),
        (schemas.Confirmation, ("unit_price",)),
    ],
)
def test_each_request_body_documents_exactly_the_fields_the_domain_reads(documented, read):  # type: ignore[no-untyped-def]
    # The domain refuses any other field by name (400), so a field missing here is one no client can find.
    assert set(documented.__struct_fields__) == set(read)


def test_the_documented_statuses_are_the_domains():
    assert {s.name: s.value for s in schemas.StockStatus} == {s.name: s.value for s in Status}
    assert {s.name: s.value for s in schemas.ReservationStatus} == {s.name: s.value for s in HoldStatus}
