"""Initial schema: customers, products, prices, plans and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types at this revision (tables.py may evolve later).
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_ID = sa.String(64)
_TS = sa.DateTime(timezone=True)


def _entity_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", _JSON, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", _ID, nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        *_entity_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("external_id", name="uq_customers_external_id"),
    )
    op.create_table(
        "products",
        sa.Column("id", _ID, nullable=False),
        sa.Column("external_id", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_entity_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("external_id", name="uq_products_external_id"),
    )
    op.create_table(
        "prices",
        sa.Column("id", _ID, nullable=False),
        sa.Column("product_id", _ID, nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        sa.Column("unit_amount", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("lookup_key", sa.String(255), nullable=True),
        *_entity_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_prices"),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_prices_product_id_products"
        ),
        sa.UniqueConstraint("lookup_key", name="uq_prices_lookup_key"),
    )
    op.create_index("ix_prices_product_id", "prices", ["product_id"])
    op.create_table(
        "plans",
        sa.Column("id", _ID, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_entity_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_plans"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(100), nullable=False),
        sa.Column("request_hash", sa.CHAR(64), nullable=False),
        sa.Column("response", _JSON, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("completed_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_table("plans")
    op.drop_index("ix_prices_product_id", table_name="prices")
    op.drop_table("prices")
    op.drop_table("products")
    op.drop_table("customers")
