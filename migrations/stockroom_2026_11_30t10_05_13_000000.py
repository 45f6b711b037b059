"""The dashboard at catalogue size: trigram search and the indexes its filters and default sort use.

- `pg_trgm` (shipped with the embedded server and with every PostgreSQL contrib package): GIN trigram
  indexes on `name` and `sku` answer `ILIKE '%part%'` for any part of 3 characters or more without a
  scan of the catalogue (the dashboard's search and the entry form's suggestions).
- `product_brand_idx`: the brand filter, and the list of brands (a loose index scan) for its menu.
- `product_name_idx`: sorting by name without a sort of the whole catalogue.
"""

from app.persistence.migrations import sql_forwards

ID = "2026-11-30T10:05:13:000000"
VERSION = "1.38.0"
DESCRIPTION = "pg_trgm search indexes, brand and name indexes"

SQL = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX product_name_trgm_idx ON product USING gin (name gin_trgm_ops);
CREATE INDEX product_sku_trgm_idx ON product USING gin (sku gin_trgm_ops);
CREATE INDEX product_brand_idx ON product (brand);
CREATE INDEX product_name_idx ON product (name, sku);
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
