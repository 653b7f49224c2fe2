"""Subscriptions: subscriptions (with next_action_at for billing runs), pending invoice
items and billing runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (tables may evolve later).
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_ID = sa.String(64)
_TS = sa.DateTime(timezone=True)

_INDEXES: dict[str, tuple[str, ...]] = {
    "subscriptions": ("customer_id", "status", "next_action_at"),
    "pending_invoice_items": ("subscription_id",),
    "billing_runs": ("at",),
}


def _versioned() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("next_action_at", _TS, nullable=True),
        sa.Column("current_period_end", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_subscriptions_customer_id_customers"
        ),
    )
    op.create_table(
        "pending_invoice_items",
        sa.Column("id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_pending_invoice_items"),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name="fk_pending_invoice_items_subscription_id_subscriptions",
        ),
    )
    op.create_table(
        "billing_runs",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("worker", sa.String(255), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.Column("renewed", sa.Integer(), nullable=False),
        sa.Column("invoices_created", sa.Integer(), nullable=False),
        *_versioned(),
        sa.PrimaryKeyConstraint("id", name="pk_billing_runs"),
    )
    for table, columns in _INDEXES.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, columns in reversed(_INDEXES.items()):
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table in ("billing_runs", "pending_invoice_items", "subscriptions"):
        op.drop_table(table)
