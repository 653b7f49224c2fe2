"""The schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this.

Each entity table has indexed key columns (copies of model fields used for lookups, uniqueness
and lists), an optimistic ``version`` and a ``data`` JSON document holding the whole model
(``model_dump(mode="json")``). Amount columns are BIGINT minor units next to a CHAR(3) ISO
currency code.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

VERSION_TABLE = "lms_billing_alembic_version"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# JSONB on PostgreSQL (indexable, compact); JSON text elsewhere. SQL NULL for None.
JsonDocument = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True), "postgresql"
)
Timestamp = sa.DateTime(timezone=True)
Id = sa.String(64)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("external_id", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", JsonDocument, nullable=False),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("external_id", sa.String(255), nullable=True, unique=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", JsonDocument, nullable=False),
)

prices = sa.Table(
    "prices",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("product_id", Id, sa.ForeignKey("products.id"), nullable=False, index=True),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("unit_amount", sa.BigInteger, nullable=True),  # minor units of `currency`
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("lookup_key", sa.String(255), nullable=True, unique=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", JsonDocument, nullable=False),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", JsonDocument, nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),  # the unique constraint races hit
    sa.Column("operation", sa.String(100), nullable=False),
    sa.Column("request_hash", sa.CHAR(64), nullable=False),
    sa.Column("response", JsonDocument, nullable=True),  # NULL while the call is in flight
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    sa.Column("completed_at", Timestamp, nullable=True),
)

ENTITY_TABLES: dict[str, sa.Table] = {
    "customers": customers,
    "products": products,
    "prices": prices,
    "plans": plans,
}

__all__ = [
    "ENTITY_TABLES",
    "NAMING_CONVENTION",
    "VERSION_TABLE",
    "customers",
    "idempotency_keys",
    "metadata",
    "plans",
    "prices",
    "products",
]

# Invoicing tables live in their own module on the same metadata; loading it here means
# whoever sees `metadata` (Alembic, create_all, tests) sees every table.
from lms_billing.storage.sqlalchemy import tables_invoicing as _tables_invoicing  # noqa: E402,F401
from lms_billing.storage.sqlalchemy import tables_payments as _payments  # noqa: E402,F401
from lms_billing.storage.sqlalchemy import tables_subscriptions as _subs  # noqa: E402,F401
