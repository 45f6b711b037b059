"""Search and alerts that cost what they find, not the catalogue's size.

- `product_search_trgm_idx`: one trigram index over `sku || ' ' || name`, the text the search matches
  each word against (`search_condition`): a search of several words is one GIN scan that intersects
  the words' trigrams, instead of a scan per word and column. It replaces the two indexes made just
  before (one per column), which only let the planner use one word.
- `product_alerting_idx`: the products whose stored available stock is at or under their threshold,
  a superset of those low or out of stock (lapsed holds only add to what is available), so the alerts
  panel and the status filter read those few rows and not every product.
"""

from app.persistence.migrations import sql_forwards

ID = "2026-11-30T10:05:14:000000"
VERSION = "1.38.0"
DESCRIPTION = "one trigram index for search, a partial index of alerting products"

SQL = """
CREATE INDEX product_search_trgm_idx ON product USING gin ((sku || ' ' || name) gin_trgm_ops);
DROP INDEX IF EXISTS product_name_trgm_idx;
DROP INDEX IF EXISTS product_sku_trgm_idx;
CREATE INDEX product_alerting_idx ON product (sku) WHERE on_hand - reserved <= low_stock_threshold;
"""


forwards = sql_forwards(ID, DESCRIPTION, SQL)
