"""Entity specs for payments (see :mod:`lms_billing.storage.entities`).

``composite_unique`` lists column groups that must be unique together (the SQL tables carry
the same constraints; the memory backend checks them in :mod:`.memory_payments`).
"""

from __future__ import annotations

from typing import Any

from lms_billing.domain.payment_records import (
    DunningState,
    GatewayCustomerLink,
    Payment,
    Refund,
    StoredPaymentMethod,
    WebhookInboxEntry,
    collection_slot,
)
from lms_billing.storage.entities import EntitySpec, utc


def _method_columns(method: StoredPaymentMethod) -> dict[str, Any]:
    return {
        "id": method.id,
        "customer_id": method.customer_id,
        "gateway": method.gateway,
        "token": method.token,
        "brand": method.brand,
        "last4": method.last4,
        "exp_month": method.exp_month,
        "exp_year": method.exp_year,
        "fingerprint": method.fingerprint,
        "is_default": method.is_default,
        "active": method.active,
        "created_at": utc(method.created_at),
    }


def _gateway_customer_columns(link: GatewayCustomerLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "customer_id": link.customer_id,
        "gateway": link.gateway,
        "gateway_customer_id": link.gateway_customer_id,
        "created_at": utc(link.created_at),
    }


def _payment_columns(payment: Payment) -> dict[str, Any]:
    settlement = payment.settlement
    return {
        "id": payment.id,
        "invoice_id": payment.invoice_id,
        "customer_id": payment.customer_id,
        "gateway": payment.gateway,
        "gateway_payment_id": payment.gateway_payment_id,
        "idempotency_key": payment.idempotency_key,
        # Unique: a second in-flight attempt on one invoice fails at the database, and so does
        # one racing past a succeeded payment (whose row keeps the slot). The slot is the
        # invoice id, qualified by the amount paid when the attempt started, so the rest of
        # a partly captured invoice can still be collected.
        "collecting_invoice_id": collection_slot(payment) if payment.holds_invoice else None,
        "status": payment.status.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "amount_received": payment.amount_received,
        "amount_refunded": payment.amount_refunded,
        "settlement_amount": None if settlement is None else settlement.amount,
        "settlement_currency": None if settlement is None else settlement.currency,
        # Kept as text: an exact decimal, never a float.
        "settlement_fx_rate": None
        if settlement is None or settlement.exchange_rate is None
        else str(settlement.exchange_rate),
        "settlement_fee": None if settlement is None else settlement.fee,
        "decline_code": payment.decline_code,
        "risk_level": None if payment.risk is None else payment.risk.level.value,
        "fraud_outcome": payment.fraud.outcome.value,
        "attempt": payment.attempt,
        "created_at": utc(payment.created_at),
    }


def _refund_columns(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "credit_note_id": refund.credit_note_id,
        "gateway": refund.gateway,
        "gateway_refund_id": refund.gateway_refund_id,
        "idempotency_key": refund.idempotency_key,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status.value,
        "created_at": utc(refund.created_at),
    }


def _inbox_columns(entry: WebhookInboxEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "gateway": entry.gateway,
        "event_id": entry.event_id,
        "type": entry.type,
        "payload_hash": entry.payload_hash,
        "received_at": utc(entry.received_at),
        "processed_at": None if entry.processed_at is None else utc(entry.processed_at),
    }


def _dunning_columns(state: DunningState) -> dict[str, Any]:
    return {
        "id": state.id,
        "customer_id": state.customer_id,
        "subscription_id": state.subscription_id,
        "status": state.status.value,
        "attempts": state.attempts,
        "next_retry_at": None if state.next_retry_at is None else utc(state.next_retry_at),
        "last_decline_code": state.last_decline_code,
    }


PAYMENT_METHODS: EntitySpec[StoredPaymentMethod] = EntitySpec(
    table="payment_methods",
    model=StoredPaymentMethod,
    label="payment method",
    key_columns=_method_columns,
    references={"customer_id": "customers"},
)
GATEWAY_CUSTOMERS: EntitySpec[GatewayCustomerLink] = EntitySpec(
    table="gateway_customers",
    model=GatewayCustomerLink,
    label="gateway customer",
    key_columns=_gateway_customer_columns,
    references={"customer_id": "customers"},
)
PAYMENTS: EntitySpec[Payment] = EntitySpec(
    table="payments",
    model=Payment,
    label="payment",
    key_columns=_payment_columns,
    unique=("idempotency_key", "collecting_invoice_id"),
    references={"invoice_id": "invoices", "customer_id": "customers"},
)
REFUNDS: EntitySpec[Refund] = EntitySpec(
    table="refunds",
    model=Refund,
    label="refund",
    key_columns=_refund_columns,
    unique=("idempotency_key",),
    references={"payment_id": "payments"},
)
WEBHOOK_EVENTS: EntitySpec[WebhookInboxEntry] = EntitySpec(
    table="webhook_events",
    model=WebhookInboxEntry,
    label="webhook event",
    key_columns=_inbox_columns,
)
DUNNING_STATES: EntitySpec[DunningState] = EntitySpec(
    table="dunning_states",
    model=DunningState,
    label="dunning state",
    key_columns=_dunning_columns,
    references={"id": "invoices"},
)

COMPOSITE_UNIQUE: dict[str, tuple[tuple[str, ...], ...]] = {
    "payment_methods": (("gateway", "token"),),
    "gateway_customers": (("customer_id", "gateway"),),
    "payments": (("gateway", "gateway_payment_id"),),
    "refunds": (("gateway", "gateway_refund_id"),),
    "webhook_events": (("gateway", "event_id"),),
}
"""Column groups unique together (rows with a NULL in the group are not compared)."""

__all__ = [
    "COMPOSITE_UNIQUE",
    "DUNNING_STATES",
    "GATEWAY_CUSTOMERS",
    "PAYMENTS",
    "PAYMENT_METHODS",
    "REFUNDS",
    "WEBHOOK_EVENTS",
]
