"""Billing-run claim order: index subscriptions on (next_action_at, id).

A billing run claims ``WHERE next_action_at <= :at ORDER BY next_action_at, id LIMIT :n``.
With an index on ``next_action_at`` alone every subscription due at the same instant had to
be read and sorted by ``id`` for every batch; this index returns each batch in order. It
replaces the single-column index, whose queries it serves as well.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_subscriptions_next_action_at_id", "subscriptions", ["next_action_at", "id"])
    op.drop_index("ix_subscriptions_next_action_at", table_name="subscriptions")


def downgrade() -> None:
    op.create_index("ix_subscriptions_next_action_at", "subscriptions", ["next_action_at"])
    op.drop_index("ix_subscriptions_next_action_at_id", table_name="subscriptions")
