"""Reservations of stock for orders (SPEC §2 "Reservations")."""

from app.persistence.migrations import sql_forwards

ID = "2026-11-21T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "reservations"

SQL = """
CREATE TABLE reservation (
    id bigserial PRIMARY KEY,
    product bigint NOT NULL REFERENCES product (id) ON DELETE RESTRICT,
    order_ref varchar(100) NOT NULL,
    quantity bigint NOT NULL CHECK (quantity > 0),
    status varchar(10) NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'confirmed', 'cancelled', 'expired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    ended_at timestamptz,
    unit_price numeric(14, 4),
    transaction_id bigint REFERENCES stock_transaction (id) ON DELETE SET NULL,
    UNIQUE (product, order_ref)
);
-- Readers subtract active holds whose time has passed; this keeps that probe cheap.
CREATE INDEX reservation_active_idx ON reservation (product, expires_at) WHERE status = 'active';
CREATE INDEX reservation_status_idx ON reservation (status, created_at);
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
