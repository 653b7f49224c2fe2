"""Subscription tables, on the same :data:`~lms_billing.storage.sqlalchemy.tables.metadata`.

``subscriptions.next_action_at`` is the next instant anything is due for a subscription
(renewal, trial end or notice, a collection pause ending, an incomplete first invoice
expiring; NULL when nothing is scheduled). A billing run claims ``next_action_at <= :at``
ordered by ``(next_action_at, id)``: the index on exactly those two columns hands the
database each batch in order, so a claim reads one batch of rows, not every due row (with
an index on ``next_action_at`` alone, subscriptions due at the same instant had to be read
and sorted by ``id`` for every batch: a run cost grew with the square of its size).
"""

from __future__ import annotations

import sqlalchemy as sa

from lms_billing.storage.sqlalchemy.tables import Id, JsonDocument, Timestamp, metadata

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("next_action_at", Timestamp, nullable=True),
    sa.Column("current_period_end", Timestamp, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", JsonDocument, nullable=False),
    # The claim order (billing runs); also serves ``next_action_at <= :at`` alone.
    sa.Index("ix_subscriptions_next_action_at_id", "next_action_at", "id"),
)

pending_invoice_items = sa.Table(
    "pending_invoice_items",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("subscription_id", Id, sa.ForeignKey("subscriptions.id"), nullable=False, index=True),
    sa.Column("customer_id", Id, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", JsonDocument, nullable=False),
)

billing_runs = sa.Table(
    "billing_runs",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("at", Timestamp, nullable=False, index=True),
    sa.Column("worker", sa.String(255), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.Column("claimed", sa.Integer, nullable=False),
    sa.Column("renewed", sa.Integer, nullable=False),
    sa.Column("invoices_created", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("data", JsonDocument, nullable=False),
)

SUBSCRIPTION_TABLES: dict[str, sa.Table] = {
    "subscriptions": subscriptions,
    "pending_invoice_items": pending_invoice_items,
    "billing_runs": billing_runs,
}

__all__ = ["SUBSCRIPTION_TABLES", "billing_runs", "pending_invoice_items", "subscriptions"]
