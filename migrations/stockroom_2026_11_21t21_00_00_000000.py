"""Idempotency keys: the first completed response of a mutating POST, replayed for repeats."""

from app.persistence.migrations import sql_forwards

ID = "2026-11-21T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotency keys"

SQL = """
CREATE TABLE idempotency_key (
    scope varchar(100) NOT NULL,
    key varchar(200) NOT NULL,
    fingerprint varchar(64) NOT NULL,
    status_code integer,
    response jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_key_created_idx ON idempotency_key (created_at);
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
