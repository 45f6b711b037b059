"""The import's fast row path agrees with parse_row, and the compact store gives rows back as read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import InvalidInput
from app.domain.rules import Reason, TxType
from app.intake.csv_format import CheckedFile, RowReader, parse_row

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ZONE = timezone(timedelta(hours=2))
HEADER = ["external_id", "sku", "product_name", "type", "quantity", "unit_price", "at", "reason", "note"]
CELLS = {
    "external_id": ["x1", "", " x2 ", "'x", "'=x", "x" * 100, "x" * 101, "é-1", "a\x00b", "a\tb", "-5"],
    "sku": ["A-1", " A-1 ", "", "-A", "a b", "A" * 64, "A" * 65, "'A", "Ä", "A.1_b"],
    "product_name": ["", "", "", " ", "Tea"],
    "type": ["BUY", "SELL", "ADJUST", "COUNT", "buy", " SELL ", "", "X"],
    "quantity": ["1", "0", "10", "-3", "+3", "1.5", "999999999", "1000000000", "١٢", "", " 7 ", "007", "1_0"],
    "unit_price": [
        "",
        "1",
        "9.99",
        "1.23456",
        "-1",
        "1e3",
        "NaN",
        " 2.5 ",
        "999999999.9999",
        "1000000000",
        ".5",
        "5.",
        "-0",
        "0",
        "１",
    ],  # fmt: skip
    "at": [
        "2025-03-01T08:00:00Z",
        "2025-03-01 08:00",
        "2025-03-01",
        "",
        "2099-01-01T00:00:00Z",
        "1899-12-31T00:00:00Z",
        "2025-03-01T08:00:00.1234567Z",
        "garbage",
        " 2025-03-01T08:00:00+05:00 ",
        "2026-11-21T12:04:59Z",
        "2026-11-21T12:05:01Z",
    ],  # fmt: skip
    "reason": ["", "", "damage", "DAMAGE", " loss ", "'damage", "bogus"],
    "note": ["", "", "hello", " x ", "=cmd", "'=cmd", "a\x01b", "a\nb", "n" * 501, "e\u0301", "-3"],
}
rows = st.tuples(*(st.sampled_from(CELLS[c]) for c in HEADER)).map(list)


def _parsed(line: int, mapping: dict[str, str | None]) -> object:
    try:
        return parse_row(line, mapping, now=NOW, zone=ZONE)
    except InvalidInput as bad:
        return bad.errors


@settings(max_examples=3000, deadline=None)
@given(rows, st.sampled_from(["same", "short", "long"]), st.permutations(range(len(HEADER))))
def test_the_fast_path_accepts_only_rows_parse_row_accepts_and_makes_the_same_row(cells, width, order):
    header = [HEADER[i] for i in order]
    cells = [cells[i] for i in order]
    if width == "short":
        cells = cells[:-1]
    elif width == "long":
        cells = [*cells, "extra"]
    reader = RowReader(header, now=NOW, zone=ZONE)
    fast = reader.fast(7, cells)
    slow = _parsed(7, reader.mapping(cells))
    if fast is not None:
        assert fast == slow
    assert (reader.row(7, cells) if not isinstance(slow, list) else slow) == slow


def test_the_common_rows_take_the_fast_path():
    reader = RowReader(HEADER, now=NOW, zone=ZONE)
    common = [
        ["x1", "A-1", "", "BUY", "10", "3.25", "2025-03-01T08:00:00Z", "", ""],
        ["x2", "A-1", "", "SELL", "2", "9.99", "2025-03-01 09:00", "", "a note"],
        ["x3", "A-1", "", "ADJUST", "1", "", "2025-03-01T10:00:00+01:00", "found", ""],
        ["x4", "A-1", "", "COUNT", "0", "", "2025-03-02", "", ""],
    ]
    for cells in common:
        assert reader.fast(2, cells) == parse_row(2, dict(zip(HEADER, cells, strict=True)), now=NOW, zone=ZONE)


def test_a_checked_file_gives_each_row_back_as_parsed_in_timeline_order():
    reader = RowReader(HEADER, now=NOW, zone=ZONE)
    file = CheckedFile()
    lines = [
        ["p1", "B-1", "Tea", "", "", "", "", "", ""],
        ["x1", "B-1", "", "SELL", "2", "9.99", "2025-03-02T08:00:00.000001+01:00", "", "n"],
        ["x2", "B-2", "Cup", "BUY", "5", "1.5", "2025-03-01T08:00:00Z", "", ""],
        ["x3", "B-1", "", "BUY", "4", "2", "2025-03-01T08:00:00Z", "", ""],
        ["x4", "B-1", "", "ADJUST", "-1", "", "2025-03-01T08:00:00Z", "damage", ""],
    ]
    for line, cells in enumerate(lines, start=2):
        file.add(reader.row(line, cells))
    assert file.skus == ["B-1", "B-2"] and file.transactions == 4
    assert {n: (line, p.name) for n, (line, p) in file.named.items()} == {0: (2, "Tea"), 1: (4, "Cup")}
    placed = [file.row(i) for i in file.rows(0)]
    assert [(r.line, r.type, r.quantity, r.reason) for r in placed] == [
        (5, TxType.BUY, 4, None), (6, TxType.ADJUST, -1, Reason.DAMAGE), (3, TxType.SELL, 2, None),
    ]  # fmt: skip
    assert placed[2].at == datetime(2025, 3, 2, 7, 0, 0, 1, tzinfo=UTC)
    assert (placed[2].unit_price, placed[2].note, placed[2].external_id) == (Decimal("9.9900"), "n", "x1")


LOCATED = [*HEADER, "location", "to_location"]
LOCATED_CELLS = CELLS | {
    "type": ["BUY", "SELL", "TRANSFER", "TRANSFER", "COUNT", "transfer"],
    "location": ["", "", "MAIN", "BACK", " BACK ", "-X", "L" * 32, "L" * 33, "a b"],
    "to_location": ["", "", "BACK", "MAIN", "SHOP-2", "'BACK", "T" * 33],
}
located_rows = st.tuples(*(st.sampled_from(LOCATED_CELLS[c]) for c in LOCATED)).map(list)


@settings(max_examples=3000, deadline=None)
@given(located_rows, st.permutations(range(len(LOCATED))))
def test_the_fast_path_agrees_with_parse_row_on_locations_and_transfers(cells, order):
    header = [LOCATED[i] for i in order]
    cells = [cells[i] for i in order]
    reader = RowReader(header, now=NOW, zone=ZONE)
    fast = reader.fast(7, cells)
    slow = _parsed(7, reader.mapping(cells))
    if fast is not None:
        assert fast == slow
    assert (reader.row(7, cells) if not isinstance(slow, list) else slow) == slow


def test_a_checked_file_keeps_each_rows_locations_and_places_the_unnamed_at_the_products_default():
    reader = RowReader(LOCATED, now=NOW, zone=ZONE)
    file = CheckedFile()
    lines = [
        ["x1", "C-1", "Tea", "BUY", "5", "1", "2025-03-01T08:00:00Z", "", "", "", ""],
        ["x2", "C-1", "", "TRANSFER", "2", "", "2025-03-01T09:00:00Z", "", "", "", "BACK"],
        ["x3", "C-1", "", "SELL", "1", "2", "2025-03-01T10:00:00Z", "", "", "BACK", ""],
    ]
    for line, cells in enumerate(lines, start=2):
        file.add(reader.row(line, cells))
    assert [(file.row(i).location, file.row(i).to_location) for i in range(3)] == [
        (None, None), (None, "BACK"), ("BACK", None),
    ]  # fmt: skip
    entries = [file.entry(i, i + 1, "SHOP") for i in range(3)]
    assert [(e.type, e.location, e.to_location) for e in entries] == [
        (TxType.BUY, "SHOP", None), (TxType.TRANSFER, "SHOP", "BACK"), (TxType.SELL, "BACK", None),
    ]  # fmt: skip
    assert reader.fast(2, lines[1]) is not None and reader.fast(2, lines[2]) is not None  # the common path


def test_a_refused_row_keeps_its_errors_and_what_only_the_database_can_confirm():
    """A bad row's errors, and its well-formed location codes (the import looks them up with the
    others, so that one 400 lists every bad row): not a code its own errors name."""
    reader = RowReader([*LOCATED, "default_location"], now=NOW, zone=ZONE)
    file = CheckedFile()
    bad = [
        ["x1", "D-1", "", "SELL", "-1", "2", "2025-03-01T08:00:00Z", "", "", "NOWHERE", "", ""],
        ["x2", "D-2", "Cup", "BUY", "1", "1", "2025-03-01T08:00:00Z", "", "", "", "", "a b"],
        ["x3", "D-1", "", "TRANSFER", "1", "", "later", "", "", "BACK", "BACK", ""],
    ]
    for line, cells in enumerate(bad, start=2):
        try:
            reader.row(line, cells)
        except InvalidInput as refused:
            file.refuse(line, reader.mapping(cells), refused)
        else:
            raise AssertionError(f"line {line} was accepted")
    assert [(e.line, e.field) for e in file.refused] == [
        (2, "quantity"), (3, "default_location"), (4, "at"), (4, "to_location"),
    ]  # fmt: skip
    assert [(x.line, x.field, x.code, x.sku) for x in file.refused_codes] == [
        (2, "location", "NOWHERE", "D-1"), (4, "location", "BACK", "D-1"),
    ]  # fmt: skip
    assert file.refused_skus == {"D-2"} and file.transactions == 0
