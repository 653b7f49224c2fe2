"""Invoicing tables, on the same :data:`~lms_billing.storage.sqlalchemy.tables.metadata`.

Invoice lines are rows of their own (a billing run bulk-inserts them); everything else is a
key-column + JSON document table like the catalog's. Amounts are BIGINT minor units next to
a CHAR(3) currency. ``numbering_counters`` holds one row per (series, period): the row that
``INSERT ... ON CONFLICT DO UPDATE`` locks while a document is being numbered.
"""

from __future__ import annotations

import sqlalchemy as sa

from lms_billing.storage.sqlalchemy.tables import Id, JsonDocument, Timestamp, metadata


def _versioned() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("data", JsonDocument, nullable=False),
    ]


coupons = sa.Table(
    "coupons",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("valid", sa.Boolean, nullable=False),
    sa.Column("times_redeemed", sa.Integer, nullable=False),  # authoritative count
    sa.Column("max_redemptions", sa.Integer, nullable=True),
    *_versioned(),
)

promotion_codes = sa.Table(
    "promotion_codes",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("code", sa.String(64), nullable=False, unique=True),  # stored upper-case
    sa.Column("coupon_id", Id, sa.ForeignKey("coupons.id"), nullable=False, index=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("times_redeemed", sa.Integer, nullable=False),
    sa.Column("max_redemptions", sa.Integer, nullable=True),
    *_versioned(),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("subscription_id", Id, nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("number", sa.String(64), nullable=True, unique=True),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("amount_due", sa.BigInteger, nullable=False),
    sa.Column("amount_paid", sa.BigInteger, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("finalized_at", Timestamp, nullable=True),
    *_versioned(),
)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("invoice_id", Id, sa.ForeignKey("invoices.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("data", JsonDocument, nullable=False),
)

coupon_redemptions = sa.Table(
    "coupon_redemptions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("coupon_id", Id, sa.ForeignKey("coupons.id"), nullable=False, index=True),
    sa.Column("promotion_code_id", Id, sa.ForeignKey("promotion_codes.id"), nullable=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("invoice_id", Id, sa.ForeignKey("invoices.id"), nullable=True, index=True),
    sa.Column("created_at", Timestamp, nullable=False),
    *_versioned(),
)

credit_notes = sa.Table(
    "credit_notes",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("number", sa.String(64), nullable=False, unique=True),
    sa.Column("invoice_id", Id, sa.ForeignKey("invoices.id"), nullable=False, index=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    *_versioned(),
)

receipts = sa.Table(
    "receipts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("number", sa.String(64), nullable=False, unique=True),
    sa.Column("invoice_id", Id, sa.ForeignKey("invoices.id"), nullable=True, index=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("amount_paid", sa.BigInteger, nullable=False),
    sa.Column("payment_id", sa.String(255), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    *_versioned(),
)

numbering_counters = sa.Table(
    "numbering_counters",
    metadata,
    sa.Column("series", sa.String(64), primary_key=True),
    sa.Column("period_key", sa.String(32), primary_key=True),
    sa.Column("last_value", sa.BigInteger, nullable=False),
)

customer_balance_transactions = sa.Table(
    "customer_balance_transactions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),  # signed: + credit, - used
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("invoice_id", Id, sa.ForeignKey("invoices.id"), nullable=True),
    sa.Column("credit_note_id", Id, sa.ForeignKey("credit_notes.id"), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    *_versioned(),
)

INVOICING_TABLES: dict[str, sa.Table] = {
    "coupons": coupons,
    "promotion_codes": promotion_codes,
    "coupon_redemptions": coupon_redemptions,
    "invoices": invoices,
    "credit_notes": credit_notes,
    "receipts": receipts,
    "customer_balance_transactions": customer_balance_transactions,
}

__all__ = [
    "INVOICING_TABLES",
    "coupon_redemptions",
    "coupons",
    "credit_notes",
    "customer_balance_transactions",
    "invoice_lines",
    "invoices",
    "numbering_counters",
    "promotion_codes",
    "receipts",
]
