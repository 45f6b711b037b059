"""An index of the sales by time, with their product and quantity (issue 13): the movers report sums
the units each product sold in a window; at 5,000,000 rows that was a scan of the whole ledger
(1.0–1.5 s). The window's sales (or, when the window holds most of them, the sales before it,
subtracted from each product's stored `units_out`) are now read from this index alone.
"""

from app.persistence.migrations import sql_forwards

ID = "2026-11-30T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index of sales by time for the movers report"

SQL = """
CREATE INDEX stock_transaction_sales_by_time_idx ON stock_transaction (at, product) INCLUDE (quantity)
WHERE type = 'SELL';
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
