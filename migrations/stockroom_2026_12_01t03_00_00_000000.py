"""A kept outcome is stored as the exact text it was encoded to (json, not jsonb): jsonb re-sorts
an object's keys, so a replayed 409 differed byte for byte from the first answer."""

from app.persistence.migrations import sql_forwards

ID = "2026-12-01T03:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotency outcomes kept as their exact text"

SQL = """
ALTER TABLE idempotency_key ALTER COLUMN outcome TYPE json USING outcome::json;
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
