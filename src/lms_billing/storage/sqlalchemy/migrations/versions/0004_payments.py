"""Payments: saved payment methods (tokens only), gateway customers, payments, refunds, the
webhook inbox and dunning state per invoice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (tables may evolve later).
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_ID = sa.String(64)
_TS = sa.DateTime(timezone=True)

_INDEXES: dict[str, tuple[str, ...]] = {
    "payment_methods": ("customer_id", "fingerprint"),
    "payments": ("invoice_id", "customer_id", "status", "created_at"),
    "refunds": ("payment_id",),
    "webhook_events": ("received_at",),
    "dunning_states": ("next_retry_at",),
}


def _versioned() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
    ]


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.create_table(
        "payment_methods",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("gateway", sa.String(64), nullable=False),
        sa.Column("token", sa.String(255), nullable=False),
        sa.Column("brand", sa.String(32), nullable=True),
        sa.Column("last4", sa.CHAR(4), nullable=True),
        sa.Column("exp_month", sa.SmallInteger(), nullable=True),
        sa.Column("exp_year", sa.SmallInteger(), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_payment_methods"),
        sa.UniqueConstraint("gateway", "token", name="uq_payment_methods_gateway_token"),
        _fk("payment_methods", "customer_id", "customers"),
    )
    op.create_table(
        "gateway_customers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("gateway", sa.String(64), nullable=False),
        sa.Column("gateway_customer_id", sa.String(255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_customers"),
        sa.UniqueConstraint(
            "customer_id", "gateway", name="uq_gateway_customers_customer_id_gateway"
        ),
        _fk("gateway_customers", "customer_id", "customers"),
    )
    op.create_table(
        "payments",
        sa.Column("id", _ID, nullable=False),
        sa.Column("invoice_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("gateway", sa.String(64), nullable=False),
        sa.Column("gateway_payment_id", sa.String(255), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("collecting_invoice_id", _ID, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("amount_received", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("settlement_amount", sa.BigInteger(), nullable=True),
        sa.Column("settlement_currency", sa.CHAR(3), nullable=True),
        sa.Column("settlement_fx_rate", sa.String(40), nullable=True),
        sa.Column("settlement_fee", sa.BigInteger(), nullable=True),
        sa.Column("decline_code", sa.String(64), nullable=True),
        sa.Column("risk_level", sa.String(32), nullable=True),
        sa.Column("fraud_outcome", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("idempotency_key", name="uq_payments_idempotency_key"),
        sa.UniqueConstraint("collecting_invoice_id", name="uq_payments_collecting_invoice_id"),
        sa.UniqueConstraint(
            "gateway", "gateway_payment_id", name="uq_payments_gateway_gateway_payment_id"
        ),
        _fk("payments", "invoice_id", "invoices"),
        _fk("payments", "customer_id", "customers"),
    )
    op.create_table(
        "refunds",
        sa.Column("id", _ID, nullable=False),
        sa.Column("payment_id", _ID, nullable=False),
        sa.Column("credit_note_id", _ID, nullable=True),
        sa.Column("gateway", sa.String(64), nullable=False),
        sa.Column("gateway_refund_id", sa.String(255), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_refunds"),
        sa.UniqueConstraint("idempotency_key", name="uq_refunds_idempotency_key"),
        sa.UniqueConstraint(
            "gateway", "gateway_refund_id", name="uq_refunds_gateway_gateway_refund_id"
        ),
        _fk("refunds", "payment_id", "payments"),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("gateway", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("payload_hash", sa.CHAR(64), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("processed_at", _TS, nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
        sa.UniqueConstraint("gateway", "event_id", name="uq_webhook_events_gateway_event_id"),
    )
    op.create_table(
        "dunning_states",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_retry_at", _TS, nullable=True),
        sa.Column("last_decline_code", sa.String(64), nullable=True),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_dunning_states"),
        _fk("dunning_states", "id", "invoices"),
    )
    for table, columns in _INDEXES.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, columns in reversed(_INDEXES.items()):
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table in (
        "dunning_states",
        "webhook_events",
        "refunds",
        "payments",
        "gateway_customers",
        "payment_methods",
    ):
        op.drop_table(table)
