"""Entity specs for invoicing documents (see :mod:`lms_billing.storage.entities`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.domain.coupons import Coupon, PromotionCode
from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.customer_balance import CustomerBalanceTransaction
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.receipts import Receipt
from lms_billing.domain.redemptions import CouponRedemption
from lms_billing.storage.entities import EntitySpec, utc


class NumberingCounter(BaseModel):
    """One counter row: the last value handed out in ``(series, period_key)``."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="'<series>:<period_key>' (the memory backend's key).")
    series: str
    period_key: str
    last_value: int


class RedemptionLock(BaseModel):
    """The memory backend's per-customer redemption lock: a row every redemption by that
    customer rewrites, so two concurrent ones conflict at commit (SQL uses a lock instead)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="The customer id.")
    redemptions: int = 0


def _coupon_columns(coupon: Coupon) -> dict[str, Any]:
    return {
        "id": coupon.id,
        "valid": coupon.valid,
        "times_redeemed": coupon.times_redeemed,
        "max_redemptions": coupon.max_redemptions,
    }


def _promotion_code_columns(code: PromotionCode) -> dict[str, Any]:
    return {
        "id": code.id,
        "code": code.code,  # normalized upper-case: unique case-insensitively
        "coupon_id": code.coupon_id,
        "active": code.active,
        "times_redeemed": code.times_redeemed,
        "max_redemptions": code.max_redemptions,
    }


def _redemption_columns(redemption: CouponRedemption) -> dict[str, Any]:
    return {
        "id": redemption.id,
        "coupon_id": redemption.coupon_id,
        "promotion_code_id": redemption.promotion_code_id,
        "customer_id": redemption.customer_id,
        "invoice_id": redemption.invoice_id,
        "created_at": utc(redemption.created_at),
    }


def _invoice_columns(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "customer_id": invoice.customer_id,
        "subscription_id": invoice.subscription_id,
        "status": invoice.status.value,
        "number": invoice.number,
        "currency": invoice.currency,
        "total": invoice.total,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "created_at": utc(invoice.created_at),
        "finalized_at": None if invoice.finalized_at is None else utc(invoice.finalized_at),
    }


def _credit_note_columns(note: CreditNote) -> dict[str, Any]:
    return {
        "id": note.id,
        "number": note.number,
        "invoice_id": note.invoice_id,
        "customer_id": note.customer_id,
        "status": note.status.value,
        "currency": note.currency,
        "total": note.total,
        "created_at": utc(note.created_at),
    }


def _receipt_columns(receipt: Receipt) -> dict[str, Any]:
    return {
        "id": receipt.id,
        "number": receipt.number,
        "invoice_id": receipt.invoice_id,
        "customer_id": receipt.customer_id,
        "currency": receipt.currency,
        "amount_paid": receipt.amount_paid,
        "payment_id": receipt.payment_id,
        "created_at": utc(receipt.paid_at),
    }


def _balance_columns(tx: CustomerBalanceTransaction) -> dict[str, Any]:
    return {
        "id": tx.id,
        "customer_id": tx.customer_id,
        "currency": tx.currency,
        "amount": tx.amount,
        "type": tx.type.value,
        "invoice_id": tx.invoice_id,
        "credit_note_id": tx.credit_note_id,
        "created_at": utc(tx.created_at),
    }


def _counter_columns(counter: NumberingCounter) -> dict[str, Any]:
    return {
        "id": counter.id,
        "series": counter.series,
        "period_key": counter.period_key,
        "last_value": counter.last_value,
    }


COUPONS: EntitySpec[Coupon] = EntitySpec(
    table="coupons", model=Coupon, label="coupon", key_columns=_coupon_columns
)
PROMOTION_CODES: EntitySpec[PromotionCode] = EntitySpec(
    table="promotion_codes",
    model=PromotionCode,
    label="promotion code",
    key_columns=_promotion_code_columns,
    unique=("code",),
    references={"coupon_id": "coupons"},
)
COUPON_REDEMPTIONS: EntitySpec[CouponRedemption] = EntitySpec(
    table="coupon_redemptions",
    model=CouponRedemption,
    label="coupon redemption",
    key_columns=_redemption_columns,
    references={
        "coupon_id": "coupons",
        "promotion_code_id": "promotion_codes",
        "customer_id": "customers",
        "invoice_id": "invoices",
    },
)
INVOICES: EntitySpec[Invoice] = EntitySpec(
    table="invoices",
    model=Invoice,
    label="invoice",
    key_columns=_invoice_columns,
    unique=("number",),
    references={"customer_id": "customers"},
)
CREDIT_NOTES: EntitySpec[CreditNote] = EntitySpec(
    table="credit_notes",
    model=CreditNote,
    label="credit note",
    key_columns=_credit_note_columns,
    unique=("number",),
    references={"invoice_id": "invoices", "customer_id": "customers"},
)
RECEIPTS: EntitySpec[Receipt] = EntitySpec(
    table="receipts",
    model=Receipt,
    label="receipt",
    key_columns=_receipt_columns,
    unique=("number",),
    references={"invoice_id": "invoices", "customer_id": "customers"},
)
BALANCE_TRANSACTIONS: EntitySpec[CustomerBalanceTransaction] = EntitySpec(
    table="customer_balance_transactions",
    model=CustomerBalanceTransaction,
    label="customer balance transaction",
    key_columns=_balance_columns,
    references={
        "customer_id": "customers",
        "invoice_id": "invoices",
        "credit_note_id": "credit_notes",
    },
)
NUMBERING_COUNTERS: EntitySpec[NumberingCounter] = EntitySpec(
    table="numbering_counters",
    model=NumberingCounter,
    label="numbering counter",
    key_columns=_counter_columns,
)

REDEMPTION_LOCKS: EntitySpec[RedemptionLock] = EntitySpec(
    table="coupon_redemption_locks",
    model=RedemptionLock,
    label="coupon redemption lock",
    key_columns=lambda lock: {"id": lock.id},
)

__all__ = [
    "BALANCE_TRANSACTIONS",
    "COUPONS",
    "COUPON_REDEMPTIONS",
    "CREDIT_NOTES",
    "INVOICES",
    "NUMBERING_COUNTERS",
    "PROMOTION_CODES",
    "RECEIPTS",
    "REDEMPTION_LOCKS",
    "NumberingCounter",
    "RedemptionLock",
]
