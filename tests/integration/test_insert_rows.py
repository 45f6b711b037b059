"""New ledger rows are stored exactly as the domain made them: every column, every edge of a value."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.domain.ledger import Entry, Figures, Posted
from app.domain.rules import MAIN, Reason, TxType
from app.persistence import ledger_rows
from app.persistence.database import Database

pytestmark = pytest.mark.integration


async def test_rows_inserted_in_one_statement_read_back_equal_on_every_column(opened_database: Database) -> None:
    berlin = timezone(timedelta(hours=1))
    rows = [
        Posted(
            Entry(1, datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), TxType.BUY, 1_000_000_000, Decimal("0.0001")),
            Figures(1_000_000_000, Decimal("0.000100"), location_stock_after=1_000_000_000),
        ),
        Posted(
            Entry(2, datetime(2026, 1, 2, 4, 0, tzinfo=berlin), TxType.ADJUST, -3, None, Reason.DAMAGE),
            Figures(999_999_997, Decimal("0.000100"), write_off=Decimal("0.00"), location_stock_after=999_999_997),
        ),
        Posted(
            Entry(3, datetime(2026, 1, 3, tzinfo=UTC), TxType.SELL, 7, Decimal("999999999.9999")),
            Figures(
                999_999_990,
                Decimal("0.000100"),
                Decimal("6999999999.99"),
                Decimal("0.00"),
                Decimal("6999999999.99"),
                location_stock_after=999_999_990,
            ),
        ),  # fmt: skip
        Posted(
            Entry(4, datetime(2026, 1, 4, tzinfo=UTC), TxType.TRANSFER, 5, None, None, None, MAIN, "VAN"),
            Figures(999_999_990, Decimal("0.000100"), location_stock_after=999_999_985, to_location_stock_after=5),
        ),
    ]
    notes = ['a "quoted" note, \\ a backslash,\ttab\nnewline, ünïcødé, 🙂, \u2028', None, "", "x" * 500]
    external_ids = ["ext-1", None, "ext-'3'", None]
    async with opened_database.unit_of_work() as conn:
        product = await conn.fetchval("INSERT INTO product (sku, name) VALUES ('ROWS-1', 'Rows') RETURNING id")
        await conn.execute("INSERT INTO location (code, name) VALUES ('VAN', 'Van') ON CONFLICT DO NOTHING")
        ids = await ledger_rows.insert_rows(conn, [product] * 4, rows, notes, external_ids)
        stored = await conn.fetch(
            f"SELECT {ledger_rows.ROW_SELECT}, t.external_id FROM {ledger_rows.ROW_FROM}"
            " WHERE t.product = $1 ORDER BY t.seq",
            product,
        )
    assert sorted(ids) == [1, 2, 3, 4] and len(set(ids.values())) == 4
    for record, row, note, external_id in zip(stored, rows, notes, external_ids, strict=True):
        read = ledger_rows.row_from(record)
        assert read.entry == row.entry._replace(id=ids[row.entry.seq])
        assert read.entry.at.utcoffset() == timedelta(0) and read.entry.at == row.entry.at  # the same instant
        assert read.figures == row.figures
        assert [str(v) for v in read.figures if isinstance(v, Decimal)] == [
            str(v) for v in row.figures if isinstance(v, Decimal)
        ]  # the same digits, places included
        assert (read.note, record["external_id"], read.sku) == (note, external_id, "ROWS-1")
