"""Piccolo tables. The schema itself (indexes, sequence, fill factor) is in migrations/."""

from piccolo.columns import JSONB, BigInt, ForeignKey, Integer, Numeric, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

MONEY = (30, 2)
COST = (24, 6)


class Product(Table, tablename="product"):
    sku = Varchar(length=64, unique=True)
    name = Varchar(length=200)
    category = Varchar(length=100, null=True, default=None)
    brand = Varchar(length=100, null=True, default=None)
    low_stock_threshold = Integer(default=0)
    overstock_threshold = Integer(null=True, default=None)
    count_interval_days = Integer(default=30)
    barcode = Varchar(length=13, null=True, default=None)  # unique as a GTIN: see its migration
    sell_price = Numeric(digits=(14, 4), null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    # Summary figures, kept in step with the ledger in the same database transaction.
    on_hand = BigInt(default=0)
    reserved = BigInt(default=0)
    average_cost = Numeric(digits=COST)
    revenue = Numeric(digits=MONEY)
    cogs = Numeric(digits=MONEY)
    realized_pl = Numeric(digits=MONEY)
    write_off = Numeric(digits=MONEY)
    gain = Numeric(digits=MONEY)
    units_in = BigInt(default=0)
    units_out = BigInt(default=0)
    damaged = BigInt(default=0)
    tx_count = BigInt(default=0)
    last_at = Timestamptz(null=True, default=None)
    last_seq = BigInt(null=True, default=None)
    last_counted_at = Timestamptz(null=True, default=None)
    last_sale_at = Timestamptz(null=True, default=None)


class StockTransaction(Table, tablename="stock_transaction"):
    seq = BigInt(unique=True)
    product = ForeignKey(references=Product, on_delete=OnDelete.restrict)
    type = Varchar(length=6)
    quantity = BigInt()
    unit_price = Numeric(digits=(14, 4), null=True, default=None)
    at = Timestamptz()
    reason = Varchar(length=12, null=True, default=None)
    note = Text(null=True, default=None)
    stock_after = BigInt()
    average_cost_after = Numeric(digits=COST)
    revenue = Numeric(digits=MONEY)
    cogs = Numeric(digits=MONEY)
    realized_pl = Numeric(digits=MONEY)
    write_off = Numeric(digits=MONEY)
    gain = Numeric(digits=MONEY)
    created_at = Timestamptz(default=TimestamptzNow())
    external_id = Varchar(length=100, null=True, default=None, unique=True)


class AuditLog(Table, tablename="audit_log"):
    at = Timestamptz(default=TimestamptzNow())
    actor = Varchar(length=100)
    action = Varchar(length=10)
    transaction_id = BigInt()
    before = JSONB(null=True, default=None)
    after = JSONB(null=True, default=None)


class Reservation(Table, tablename="reservation"):
    product = ForeignKey(references=Product, on_delete=OnDelete.restrict)
    order_ref = Varchar(length=100)
    quantity = BigInt()
    status = Varchar(length=10, default="active")
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    unit_price = Numeric(digits=(14, 4), null=True, default=None)
    transaction_id = BigInt(null=True, default=None)


class IdempotencyKey(Table, tablename="idempotency_key"):
    scope = Varchar(length=100)
    key = Varchar(length=200)
    fingerprint = Varchar(length=64)
    outcome = JSONB(null=True, default=None)
    transaction_id = BigInt(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
