"""Room on every page of the ledger for a new version of each of its rows.

A correction at the start of a long ledger rewrites the figures of every later row in one
transaction. With half of each page free, every new row version fits on the page of the old
one (a HOT update: no index entries to add), even the first time. Measured with
`bench/history.py`: see docs/performance.md. New pages follow this at once; existing ones
as they are rewritten.
"""

from app.persistence.migrations import sql_forwards

ID = "2026-11-21T23:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger pages half free"

SQL = """
ALTER TABLE stock_transaction SET (fillfactor = 50);
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
