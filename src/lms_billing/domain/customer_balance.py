"""The customer credit balance: a ledger of signed transactions whose sum is the balance.

A positive ``amount`` is credit the customer can spend (a credit note's ``credit_amount``, or
an invoice whose total is negative: proration credits larger than its charges, which Stripe
credits to the customer balance); a negative one is credit used up (applied to an invoice at
finalization). The balance in a
currency is the sum of that currency's transactions and never goes below zero.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lms_billing.clock import ensure_aware
from lms_billing.money import CurrencyCode, SignedMinorUnits


class BalanceTransactionType(StrEnum):
    CREDIT_NOTE = "credit_note"  # credit from a credit note
    APPLIED_TO_INVOICE = "applied_to_invoice"  # credit used by a finalized invoice
    INVOICE_VOIDED = "invoice_voided"  # credit given back when that invoice is voided
    INVOICE_CREDIT = "invoice_credit"  # a negative invoice total, owed to the customer
    ADJUSTMENT = "adjustment"  # a manual correction


class CustomerBalanceTransaction(BaseModel):
    """One change to a customer's credit balance (minor units, signed)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    currency: CurrencyCode
    amount: SignedMinorUnits
    type: BalanceTransactionType
    invoice_id: str | None = None
    credit_note_id: str | None = None
    description: str | None = None
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return ensure_aware(value, name="created_at")


__all__ = ["BalanceTransactionType", "CustomerBalanceTransaction"]
