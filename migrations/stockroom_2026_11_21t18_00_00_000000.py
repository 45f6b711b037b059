"""Initial schema, written as SQL on purpose: a ledger needs RESTRICT deletes,
a composite timeline index, partial indexes for last count/sale, a global
ingestion sequence and a fill factor that keeps recomputes as HOT updates."""

from app.persistence.migrations import sql_forwards

ID = "2026-11-21T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ledger schema"

SQL = """
CREATE TABLE product (
    id bigserial PRIMARY KEY,
    sku varchar(64) NOT NULL UNIQUE,
    name varchar(200) NOT NULL,
    category varchar(100),
    brand varchar(100),
    low_stock_threshold integer NOT NULL DEFAULT 0 CHECK (low_stock_threshold >= 0),
    overstock_threshold integer CHECK (overstock_threshold > 0),
    count_interval_days integer NOT NULL DEFAULT 30 CHECK (count_interval_days >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    on_hand bigint NOT NULL DEFAULT 0,
    reserved bigint NOT NULL DEFAULT 0,
    average_cost numeric(24, 6) NOT NULL DEFAULT 0,
    revenue numeric(30, 2) NOT NULL DEFAULT 0,
    cogs numeric(30, 2) NOT NULL DEFAULT 0,
    realized_pl numeric(30, 2) NOT NULL DEFAULT 0,
    write_off numeric(30, 2) NOT NULL DEFAULT 0,
    gain numeric(30, 2) NOT NULL DEFAULT 0,
    units_in bigint NOT NULL DEFAULT 0,
    units_out bigint NOT NULL DEFAULT 0,
    damaged bigint NOT NULL DEFAULT 0,
    tx_count bigint NOT NULL DEFAULT 0,
    last_at timestamptz,
    last_seq bigint,
    last_counted_at timestamptz,
    last_sale_at timestamptz,
    CHECK (on_hand >= 0),
    CHECK (on_hand >= reserved)
);
CREATE INDEX product_category_idx ON product (category);

CREATE SEQUENCE stock_transaction_seq_seq;
CREATE TABLE stock_transaction (
    id bigserial PRIMARY KEY,
    seq bigint NOT NULL UNIQUE DEFAULT nextval('stock_transaction_seq_seq'),
    product bigint NOT NULL REFERENCES product (id) ON DELETE RESTRICT,
    type varchar(6) NOT NULL CHECK (type IN ('BUY', 'SELL', 'ADJUST', 'COUNT')),
    quantity bigint NOT NULL,
    unit_price numeric(14, 4) CHECK (unit_price >= 0),
    at timestamptz NOT NULL,
    reason varchar(12),
    note text,
    stock_after bigint NOT NULL CHECK (stock_after >= 0),
    average_cost_after numeric(24, 6) NOT NULL,
    revenue numeric(30, 2) NOT NULL DEFAULT 0,
    cogs numeric(30, 2) NOT NULL DEFAULT 0,
    realized_pl numeric(30, 2) NOT NULL DEFAULT 0,
    write_off numeric(30, 2) NOT NULL DEFAULT 0,
    gain numeric(30, 2) NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
) WITH (fillfactor = 80);
ALTER SEQUENCE stock_transaction_seq_seq OWNED BY stock_transaction.seq;
CREATE INDEX stock_transaction_timeline_idx ON stock_transaction (product, at, seq);
CREATE INDEX stock_transaction_last_count_idx ON stock_transaction (product, at) WHERE type = 'COUNT';
CREATE INDEX stock_transaction_last_sale_idx ON stock_transaction (product, at) WHERE type = 'SELL';

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor varchar(100) NOT NULL,
    action varchar(10) NOT NULL,
    transaction_id bigint NOT NULL,
    before jsonb,
    after jsonb
);
CREATE INDEX audit_log_transaction_idx ON audit_log (transaction_id);
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
