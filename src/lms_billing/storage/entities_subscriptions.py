"""Entity specs for subscriptions, pending invoice items and billing runs
(see :mod:`lms_billing.storage.entities`)."""

from __future__ import annotations

from typing import Any

from lms_billing.domain.subscription_records import (
    BillingRun,
    PendingInvoiceItem,
    SubscriptionRecord,
)
from lms_billing.storage.entities import EntitySpec, utc


def _subscription_columns(record: SubscriptionRecord) -> dict[str, Any]:
    sub = record.subscription
    due = record.next_action_at
    return {
        "id": sub.id,
        "customer_id": sub.customer_id,
        "status": sub.status.value,
        "next_action_at": None if due is None else utc(due),
        "current_period_end": utc(sub.current_period_end),
        "created_at": utc(sub.created_at),
    }


def _pending_columns(item: PendingInvoiceItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "subscription_id": item.subscription_id,
        "customer_id": item.customer_id,
        "created_at": utc(item.created_at),
    }


def _run_columns(run: BillingRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "at": utc(run.at),
        "worker": run.worker,
        "started_at": utc(run.started_at),
        "finished_at": None if run.finished_at is None else utc(run.finished_at),
        "claimed": run.claimed,
        "renewed": run.renewed,
        "invoices_created": run.invoices_created,
    }


SUBSCRIPTIONS: EntitySpec[SubscriptionRecord] = EntitySpec(
    table="subscriptions",
    model=SubscriptionRecord,
    label="subscription",
    key_columns=_subscription_columns,
    references={"customer_id": "customers"},
)
PENDING_INVOICE_ITEMS: EntitySpec[PendingInvoiceItem] = EntitySpec(
    table="pending_invoice_items",
    model=PendingInvoiceItem,
    label="pending invoice item",
    key_columns=_pending_columns,
    references={"subscription_id": "subscriptions"},
)
BILLING_RUNS: EntitySpec[BillingRun] = EntitySpec(
    table="billing_runs", model=BillingRun, label="billing run", key_columns=_run_columns
)

__all__ = ["BILLING_RUNS", "PENDING_INVOICE_ITEMS", "SUBSCRIPTIONS"]
