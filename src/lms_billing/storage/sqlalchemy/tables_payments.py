"""Payment tables, on the same :data:`~lms_billing.storage.sqlalchemy.tables.metadata`.

No table holds card data: payment methods are gateway tokens with brand, last4, expiry and
fingerprint. Amounts are BIGINT minor units next to a CHAR(3) currency; the settlement FX rate
is exact decimal text. ``webhook_events`` is the inbox: ``(gateway, event_id)`` is unique, so
a duplicated delivery is recognised by the constraint even when two deliveries race.
"""

from __future__ import annotations

import sqlalchemy as sa

from lms_billing.storage.sqlalchemy.tables import Id, JsonDocument, Timestamp, metadata


def _versioned() -> list[sa.Column[object]]:
    return [
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("data", JsonDocument, nullable=False),
    ]


payment_methods = sa.Table(
    "payment_methods",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("gateway", sa.String(64), nullable=False),
    sa.Column("token", sa.String(255), nullable=False),
    sa.Column("brand", sa.String(32), nullable=True),
    sa.Column("last4", sa.CHAR(4), nullable=True),
    sa.Column("exp_month", sa.SmallInteger, nullable=True),
    sa.Column("exp_year", sa.SmallInteger, nullable=True),
    sa.Column("fingerprint", sa.String(64), nullable=True, index=True),
    sa.Column("is_default", sa.Boolean, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    *_versioned(),
    sa.UniqueConstraint("gateway", "token", name="uq_payment_methods_gateway_token"),
)

gateway_customers = sa.Table(
    "gateway_customers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("gateway", sa.String(64), nullable=False),
    sa.Column("gateway_customer_id", sa.String(255), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    *_versioned(),
    sa.UniqueConstraint("customer_id", "gateway", name="uq_gateway_customers_customer_id_gateway"),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("invoice_id", Id, sa.ForeignKey("invoices.id"), nullable=False, index=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("gateway", sa.String(64), nullable=False),
    sa.Column("gateway_payment_id", sa.String(255), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
    sa.Column("collecting_invoice_id", Id, nullable=True, unique=True),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("amount", sa.BigInteger, nullable=False),  # minor units of `currency`
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("amount_received", sa.BigInteger, nullable=False),
    sa.Column("amount_refunded", sa.BigInteger, nullable=False),
    sa.Column("settlement_amount", sa.BigInteger, nullable=True),  # settlement minor units
    sa.Column("settlement_currency", sa.CHAR(3), nullable=True),
    sa.Column("settlement_fx_rate", sa.String(40), nullable=True),
    sa.Column("settlement_fee", sa.BigInteger, nullable=True),
    sa.Column("decline_code", sa.String(64), nullable=True),
    sa.Column("risk_level", sa.String(32), nullable=True),
    sa.Column("fraud_outcome", sa.String(16), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False, index=True),
    *_versioned(),
    sa.UniqueConstraint(
        "gateway", "gateway_payment_id", name="uq_payments_gateway_gateway_payment_id"
    ),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("payment_id", Id, sa.ForeignKey("payments.id"), nullable=False, index=True),
    sa.Column("credit_note_id", Id, nullable=True),
    sa.Column("gateway", sa.String(64), nullable=False),
    sa.Column("gateway_refund_id", sa.String(255), nullable=True),
    sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.CHAR(3), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    *_versioned(),
    sa.UniqueConstraint(
        "gateway", "gateway_refund_id", name="uq_refunds_gateway_gateway_refund_id"
    ),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("gateway", sa.String(64), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("payload_hash", sa.CHAR(64), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False, index=True),
    sa.Column("processed_at", Timestamp, nullable=True),
    *_versioned(),
    sa.UniqueConstraint("gateway", "event_id", name="uq_webhook_events_gateway_event_id"),
)

dunning_states = sa.Table(
    "dunning_states",
    metadata,
    sa.Column("id", Id, sa.ForeignKey("invoices.id"), primary_key=True),  # the invoice id
    sa.Column("customer_id", Id, nullable=False),
    sa.Column("subscription_id", Id, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_retry_at", Timestamp, nullable=True, index=True),
    sa.Column("last_decline_code", sa.String(64), nullable=True),
    *_versioned(),
)

PAYMENT_TABLES: dict[str, sa.Table] = {
    "payment_methods": payment_methods,
    "gateway_customers": gateway_customers,
    "payments": payments,
    "refunds": refunds,
    "webhook_events": webhook_events,
    "dunning_states": dunning_states,
}

__all__ = [
    "PAYMENT_TABLES",
    "dunning_states",
    "gateway_customers",
    "payment_methods",
    "payments",
    "refunds",
    "webhook_events",
]
