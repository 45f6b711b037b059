"""Stock locations (issue 15, SPEC §2 "Stock locations").

A database made before locations keeps all its history in MAIN, and this migration does not
rewrite the ledger to say so: `location` is added with the constant default 'MAIN' (PostgreSQL
stores it once, in the catalogue), and `location_stock_after` is added empty. An empty one reads
as the row's `stock_after` (everything was at MAIN then); a refold that passes the row writes it.
The foreign keys and checks are added NOT VALID: every existing row already satisfies them, and
validating would read the whole ledger. Only the two partial indexes read it (once, each finding
no row), and a product's stock by location is written to its row (`stocks`) from `on_hand`.
"""

from app.persistence.migrations import sql_forwards

ID = "2026-11-30T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "stock locations and transfers"

SQL = """
CREATE TABLE location (
    code varchar(32) PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$'),
    name varchar(200) NOT NULL CHECK (length(name) > 0),
    kind varchar(10) NOT NULL DEFAULT 'storage' CHECK (kind IN ('storage', 'transit')),
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO location (code, name) VALUES ('MAIN', 'Main');

ALTER TABLE stock_transaction
    ALTER COLUMN type TYPE varchar(8),
    DROP CONSTRAINT stock_transaction_type_check,
    ADD COLUMN location varchar(32) NOT NULL DEFAULT 'MAIN',
    ADD COLUMN to_location varchar(32),
    ADD COLUMN location_stock_after bigint,
    ADD COLUMN to_location_stock_after bigint;
ALTER TABLE stock_transaction
    ADD CONSTRAINT stock_transaction_type_check
        CHECK (type IN ('BUY', 'SELL', 'ADJUST', 'COUNT', 'TRANSFER')) NOT VALID,
    ADD CONSTRAINT stock_transaction_location_fkey FOREIGN KEY (location) REFERENCES location (code) NOT VALID,
    ADD CONSTRAINT stock_transaction_to_location_fkey
        FOREIGN KEY (to_location) REFERENCES location (code) NOT VALID,
    ADD CONSTRAINT stock_transaction_transfer_check
        CHECK ((type = 'TRANSFER') = (to_location IS NOT NULL) AND to_location IS DISTINCT FROM location) NOT VALID,
    ADD CONSTRAINT stock_transaction_location_stock_check
        CHECK (location_stock_after >= 0 AND to_location_stock_after >= 0) NOT VALID;
-- The stock at a location at a past point is the latest row there (a refold's start). MAIN's is the
-- total less the others', so only rows elsewhere are indexed: none in a one-location shop.
CREATE INDEX stock_transaction_location_idx ON stock_transaction (product, location, at, seq)
    WHERE location <> 'MAIN';
CREATE INDEX stock_transaction_to_location_idx ON stock_transaction (product, to_location, at, seq)
    WHERE to_location IS NOT NULL;

-- A product's stock by location (`stocks`: code -> units, every location it has used) and what its
-- reservations that name a location hold there (`held`), kept with its other figures.
ALTER TABLE product
    ADD COLUMN default_location varchar(32) NOT NULL DEFAULT 'MAIN' REFERENCES location (code),
    ADD COLUMN stocks jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN held jsonb NOT NULL DEFAULT '{}';
UPDATE product SET stocks = jsonb_build_object('MAIN', on_hand) WHERE tx_count > 0;

-- A location's replenishment hint for a product (reports, not alerts).
CREATE TABLE location_min_stock (
    product bigint NOT NULL REFERENCES product (id),
    location varchar(32) NOT NULL REFERENCES location (code),
    min_stock bigint NOT NULL CHECK (min_stock >= 0),
    PRIMARY KEY (product, location)
);

ALTER TABLE reservation ADD COLUMN location varchar(32) REFERENCES location (code);
ALTER TABLE app_user ADD COLUMN location varchar(32) REFERENCES location (code);
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
