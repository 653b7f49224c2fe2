"""Invoicing: coupons, promotion codes, redemptions, invoices and lines, credit notes,
receipts, numbering counters and the customer balance ledger.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (tables may evolve later).
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_ID = sa.String(64)
_TS = sa.DateTime(timezone=True)


def _versioned() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def _index(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column])


_INDEXES: dict[str, tuple[str, ...]] = {
    "promotion_codes": ("coupon_id",),
    "invoices": ("customer_id", "subscription_id", "status"),
    "invoice_lines": ("invoice_id",),
    "coupon_redemptions": ("coupon_id", "customer_id", "invoice_id"),
    "credit_notes": ("invoice_id", "customer_id"),
    "receipts": ("invoice_id", "customer_id"),
    "customer_balance_transactions": ("customer_id",),
}


def upgrade() -> None:
    op.create_table(
        "coupons",
        sa.Column("id", _ID, nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("times_redeemed", sa.Integer(), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_coupons"),
    )
    op.create_table(
        "promotion_codes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("coupon_id", _ID, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("times_redeemed", sa.Integer(), nullable=False),
        sa.Column("max_redemptions", sa.Integer(), nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_codes"),
        sa.UniqueConstraint("code", name="uq_promotion_codes_code"),
        _fk("promotion_codes", "coupon_id", "coupons"),
    )
    op.create_table(
        "invoices",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("number", sa.String(64), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("finalized_at", _TS, nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_invoices"),
        sa.UniqueConstraint("number", name="uq_invoices_number"),
        _fk("invoices", "customer_id", "customers"),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("id", _ID, nullable=False),
        sa.Column("invoice_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_invoice_lines"),
        _fk("invoice_lines", "invoice_id", "invoices"),
    )
    op.create_table(
        "coupon_redemptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("coupon_id", _ID, nullable=False),
        sa.Column("promotion_code_id", _ID, nullable=True),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("invoice_id", _ID, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_coupon_redemptions"),
        _fk("coupon_redemptions", "coupon_id", "coupons"),
        _fk("coupon_redemptions", "promotion_code_id", "promotion_codes"),
        _fk("coupon_redemptions", "customer_id", "customers"),
        _fk("coupon_redemptions", "invoice_id", "invoices"),
    )
    op.create_table(
        "credit_notes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("invoice_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_credit_notes"),
        sa.UniqueConstraint("number", name="uq_credit_notes_number"),
        _fk("credit_notes", "invoice_id", "invoices"),
        _fk("credit_notes", "customer_id", "customers"),
    )
    op.create_table(
        "receipts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("invoice_id", _ID, nullable=True),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False),
        sa.Column("payment_id", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_receipts"),
        sa.UniqueConstraint("number", name="uq_receipts_number"),
        _fk("receipts", "invoice_id", "invoices"),
        _fk("receipts", "customer_id", "customers"),
    )
    op.create_table(
        "numbering_counters",
        sa.Column("series", sa.String(64), nullable=False),
        sa.Column("period_key", sa.String(32), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", "period_key", name="pk_numbering_counters"),
    )
    op.create_table(
        "customer_balance_transactions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("invoice_id", _ID, nullable=True),
        sa.Column("credit_note_id", _ID, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_customer_balance_transactions"),
        _fk("customer_balance_transactions", "customer_id", "customers"),
        _fk("customer_balance_transactions", "invoice_id", "invoices"),
        _fk("customer_balance_transactions", "credit_note_id", "credit_notes"),
    )
    for table, columns in _INDEXES.items():
        _index(table, *columns)


def downgrade() -> None:
    for table, columns in reversed(_INDEXES.items()):
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table in (
        "customer_balance_transactions",
        "numbering_counters",
        "receipts",
        "credit_notes",
        "coupon_redemptions",
        "invoice_lines",
        "invoices",
        "promotion_codes",
        "coupons",
    ):
        op.drop_table(table)
