"""A product's barcode and sell price (SPEC §2 Products), for the counter's scan-and-sell.

The barcode is unique as a GTIN: a UPC-A and the same code written as an EAN-13 with a leading
0 (as many scanners send it) are one barcode, so the index and every lookup pad to 14 digits.
"""

from app.persistence.migrations import sql_forwards

ID = "2026-11-30T08:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "product barcode and sell price"

SQL = """
ALTER TABLE product
    ADD COLUMN barcode varchar(13) CHECK (barcode ~ '^([0-9]{8}|[0-9]{12}|[0-9]{13})$'),
    ADD COLUMN sell_price numeric(14, 4) CHECK (sell_price >= 0);
CREATE UNIQUE INDEX product_barcode_gtin_idx ON product (lpad(barcode, 14, '0')) WHERE barcode IS NOT NULL;
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
