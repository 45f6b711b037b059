"""Single-field rules: only plain ASCII numbers, storable text, times PostgreSQL and UTC agree on."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import FieldErrors, InvalidInput
from app.intake import fields
from app.intake.csv_format import RowReader, from_spreadsheet, parse_row, spreadsheet_safe
from app.intake.requests import parse_product, parse_reservation, parse_transaction
from app.web.json_body import object_of

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _refused(parse, *args, **kwargs) -> list[str]:
    with pytest.raises(InvalidInput) as refused:
        parse(*args, **kwargs)
    return [e.field for e in refused.value.errors]


@pytest.mark.parametrize("digits", ["１２", "١٢", "１2", "²"])
def test_only_ascii_digits_make_a_whole_number(digits):
    errors = FieldErrors()
    assert fields.integer(errors, "quantity", digits) is None
    assert [e.field for e in errors.errors] == ["quantity"]


@pytest.mark.parametrize("blank", ["", "  "])
def test_an_empty_whole_number_is_required_not_misread(blank):
    errors = FieldErrors()
    assert fields.integer(errors, "quantity", blank) is None
    assert [(e.field, e.message) for e in errors.errors] == [("quantity", "is required")]


@pytest.mark.parametrize("blank", ["  ", "\t"])
def test_a_price_of_spaces_alone_is_required_not_misread(blank):
    errors = FieldErrors()
    assert fields.price(errors, "unit_price", blank) is None
    assert [(e.field, e.message) for e in errors.errors] == [("unit_price", "is required")]


@pytest.mark.parametrize("text", ["١٢.٥", "１２.５", "12.５", "٫5"])
def test_only_ascii_digits_make_a_price(text):
    errors = FieldErrors()
    assert fields.price(errors, "unit_price", text) is None
    assert [e.field for e in errors.errors] == ["unit_price"]


def test_unicode_digits_in_thresholds_are_refused():
    raw = {"sku": "A-1", "name": "x", "low_stock_threshold": "１２"}
    assert _refused(parse_product, raw) == ["low_stock_threshold"]


@pytest.mark.parametrize("zero", ["-0", "-0.0000", "+0", Decimal("-0.0"), Decimal("-0")])
def test_a_negative_zero_price_is_plain_zero(zero):
    value = fields.price(FieldErrors(), "unit_price", zero)
    assert value == 0 and str(value) == "0.0000" and not value.is_signed()


@pytest.mark.parametrize("text", ["-0", " 12.5 ", "12.50", "0.0001"])
def test_a_price_read_again_is_the_same_price(text):
    first = fields.price(FieldErrors(), "unit_price", text)
    again = fields.price(FieldErrors(), "unit_price", text)
    assert first is not None and again == first and str(again) == str(first)


@pytest.mark.parametrize("text", ["12.50001", "-1", "1e2", "1000000000"])
def test_a_refused_price_is_refused_every_time_it_is_sent(text):
    for _ in range(2):
        errors = FieldErrors()
        assert fields.price(errors, "unit_price", text) is None
        assert [e.field for e in errors.errors] == ["unit_price"]


def test_prices_read_lately_are_kept_within_a_bound():
    for n in range(fields._ACCEPTED_PRICES_AT_MOST + 10):
        assert fields.price(FieldErrors(), "unit_price", f"{n}.25") == Decimal(f"{n}.25")
    assert len(fields._ACCEPTED_PRICES) <= fields._ACCEPTED_PRICES_AT_MOST


@pytest.mark.parametrize("bad", ["x\ud800", "\udfff", "a\x00b", "\x00"])
@pytest.mark.parametrize("name", ["name", "category", "brand"])
def test_product_text_must_be_storable(name, bad):
    raw = {"sku": "A-1", "name": "ok", name: bad}
    assert _refused(parse_product, raw) == [name]


@pytest.mark.parametrize("bad", ["x\ud800", "a\x00b"])
def test_notes_and_order_refs_must_be_storable(bad):
    raw = {"sku": "A-1", "type": "BUY", "quantity": 1, "unit_price": "1", "note": bad}
    assert _refused(parse_transaction, raw, now=NOW, zone=UTC) == ["note"]
    assert _refused(parse_reservation, {"sku": "A-1", "quantity": 1, "order_ref": bad}) == ["order_ref"]


def test_unstorable_names_the_problem():
    assert fields.unstorable("plain ünïcode, \n and \t") is None
    assert "NUL" in (fields.unstorable("a\x00") or "")
    assert "surrogate" in (fields.unstorable("a\ud800") or "")


@pytest.mark.parametrize("sku", ["ABC\n", "ABC\r\n", "AB\nC"])
def test_a_sku_has_no_trailing_newline(sku):
    assert _refused(parse_product, {"sku": sku, "name": "x"}) == ["sku"]


@pytest.mark.parametrize(
    "at",
    [
        "1900-01-01T00:00:00+14:00",  # 1899-12-31T10:00 in UTC
        "1899-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00+01:00",  # cannot even be written in UTC by Python
        "2026-01-01T00:00:00.1234567+00:00",  # more than microseconds: would be cut
        "2026-01-01T00:00:00.123456789Z",
        "２０２６-01-01T00:00:00+00:00",
    ],
)
def test_times_refused(at):
    errors = FieldErrors()
    assert fields.moment(errors, "at", at, now=NOW, zone=UTC) is None
    assert [e.field for e in errors.errors] == ["at"]


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("1900-01-01T00:00:00+00:00", datetime(1900, 1, 1, tzinfo=UTC)),
        ("1900-01-01T00:00:00-05:00", datetime(1900, 1, 1, 5, tzinfo=UTC)),
        ("2026-01-01T00:00:00.123456Z", datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-01T00:00:00,5+00:00", datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_times_accepted(at, expected):
    assert fields.moment(FieldErrors(), "at", at, now=NOW, zone=UTC) == expected


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-14:00", "1899-06-01", "a\x00"])
def test_a_time_filter_must_fit_between_1900_and_9999(raw):
    errors = FieldErrors()
    assert fields.time_filter(errors, "start", raw, zone=UTC) is None
    assert [e.field for e in errors.errors] == ["start"]


def test_a_time_filter_may_be_a_date_or_in_the_future():
    future = (NOW + timedelta(days=400)).date().isoformat()
    assert fields.time_filter(FieldErrors(), "end", future, zone=UTC) is not None
    assert fields.time_filter(FieldErrors(), "start", "2026-04-02", zone=UTC) == datetime(2026, 4, 2, tzinfo=UTC)


# --- CSV cells that a spreadsheet would run (OWASP "CSV injection") --------------------------------


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("'=already quoted", "''=already quoted"),
        ("'tis the season", "'tis the season"),
        ("-3", "-3"),
        ("-0.25", "-0.25"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_spreadsheet_safe_quotes_formula_leading_text(text, cell):
    assert spreadsheet_safe(text) == cell
    assert from_spreadsheet(cell) == text


@given(st.text())
def test_spreadsheet_quoting_round_trips(text):
    assert from_spreadsheet(spreadsheet_safe(text)) == text


def test_an_import_row_takes_the_protective_quote_off():
    row = {"external_id": "'=e1", "sku": "A-1", "product_name": "'@name", "category": "'+cat", "brand": "'-brand",
           "type": "ADJUST", "quantity": "-3", "unit_price": "", "at": "2026-01-01T00:00:00Z", "reason": "loss",
           "note": "'=HYPERLINK(1)"}  # fmt: skip
    parsed = parse_row(2, row, now=NOW, zone=UTC)
    assert parsed.external_id == "=e1"
    assert parsed.transaction is not None and parsed.product is not None
    assert (parsed.transaction.quantity, parsed.transaction.note) == (-3, "=HYPERLINK(1)")
    assert (parsed.product.name, parsed.product.category, parsed.product.brand) == ("@name", "+cat", "-brand")


@pytest.mark.parametrize("column", ["external_id", "product_name", "note"])
def test_an_import_cell_must_be_storable(column):
    row = {"external_id": "e1", "sku": "A-1", "product_name": "thing", "type": "BUY", "quantity": "1",
           "unit_price": "1", "at": "2026-01-01T00:00:00Z", "note": "fine", column: "bad\x00cell"}  # fmt: skip
    assert _refused(parse_row, 2, row, now=NOW, zone=UTC) == [column]


@pytest.mark.parametrize(("raw", "signed", "message"), [(0, False, "must be greater than zero"),
                                                        (-2, False, "must be greater than zero"),
                                                        (0, True, "must not be zero")])  # fmt: skip
def test_a_quantity_that_must_be_positive_says_so_for_zero_and_below(raw, signed, message):
    errors = FieldErrors()
    assert fields.quantity(errors, "quantity", raw, signed=signed) is None
    assert [e.message for e in errors.errors] == [message]


@pytest.mark.parametrize("digits", [19, 4301, 5000])
def test_a_whole_number_too_long_for_any_field_is_refused_by_name(digits: int) -> None:
    errors = FieldErrors()
    assert fields.integer(errors, "quantity", "1" + "0" * (digits - 1)) is None
    refused = [(e.field, e.message) for e in errors.errors]
    assert refused == [("quantity", "must be a whole number of at most 18 digits")]


def test_a_json_number_too_long_to_read_is_refused_naming_its_field() -> None:
    body = b'{"sku":"A","type":"SELL","quantity":1' + b"0" * 5000 + b',"unit_price":"1"}'
    with pytest.raises(InvalidInput) as refused:
        parse_transaction(object_of(body), now=datetime.now(UTC), zone=UTC)
    assert "quantity: must be a whole number of at most 18 digits" in str(refused.value)


@pytest.mark.parametrize("kind", ["ſell", "tranſfer", "adjuſt"])  # a long s: str.upper() makes it "S"
def test_a_type_is_read_in_ascii_only(kind: str) -> None:
    raw = {"sku": "A", "type": kind, "quantity": 1, "unit_price": "1"}
    with pytest.raises(InvalidInput, match="type: must be one of"):
        parse_transaction(raw, now=datetime.now(UTC), zone=UTC)


def test_more_than_six_digits_of_a_second_are_refused_in_the_basic_format_too() -> None:
    for written in ("2026-03-01T01:02:03.1234567+00:00", "20260301T010203.1234567+0000"):
        errors = FieldErrors()
        assert fields.moment(errors, "at", written, now=datetime.now(UTC), zone=UTC) is None
        assert [e.field for e in errors.errors] == ["at"] and "at most 6 digits" in errors.errors[0].message


def test_a_csv_quantity_too_long_to_read_is_refused_by_name() -> None:
    header = ["external_id", "sku", "name", "type", "quantity", "unit_price", "at"]
    row = ["x1", "P3", "Prod P3", "BUY", "1" + "0" * 5000, "1", "2026-11-01T00:00:00Z"]
    with pytest.raises(InvalidInput, match="quantity: must be a whole number of at most 18 digits"):
        parse_row(2, dict(zip(header, row, strict=True)), now=NOW, zone=UTC)
    with pytest.raises(InvalidInput, match="quantity: must be a whole number of at most 18 digits"):
        RowReader(header, now=NOW, zone=UTC).row(2, row)  # the importer's short way gives it to parse_row


@pytest.mark.parametrize(("signed", "said"), [(False, "must be at most 999,999,999"),
                                              (True, "must be between -999,999,999 and 999,999,999")])  # fmt: skip
def test_a_quantity_too_large_is_told_its_bounds(signed, said):
    errors = FieldErrors()
    assert fields.quantity(errors, "quantity", 1_000_000_000, signed=signed) is None
    assert [(e.field, e.message) for e in errors.errors] == [("quantity", said)]


@pytest.mark.parametrize("invisible", ["\u200b", "\u200b\u200c\u2060", "\u00a0\u200b", "\ufeff"])
def test_text_of_nothing_visible_is_refused(invisible):
    errors = FieldErrors()
    assert fields.text(errors, "name", invisible, max_len=200) is None
    assert [(e.field, e.message) for e in errors.errors] == [("name", "must contain a visible character")]
    assert fields.text(FieldErrors(), "name", "Tea\u200b", max_len=200) == "Tea\u200b"  # among visible ones: kept
