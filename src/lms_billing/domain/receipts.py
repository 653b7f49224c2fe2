"""Receipts: proof of one successful payment, sent to the customer.

A receipt is issued for every successful payment of an invoice, partial payments included:
payments recorded with ``InvoiceService.pay``, payments through a gateway (the payments
service) and payments a billing run's collector reports. Every payment in lms-billing pays an
invoice (a one-time checkout is an invoice too), so a receipt always names one. It copies what
the customer needs to see (what was paid for, how, and when) so it stays readable even if the
invoice is later credited. An invoice settled without money changing hands (customer credit,
a 100 % coupon, a credit note) gets no receipt. Receipts are numbered in their own series
(:data:`~lms_billing.domain.numbering.RECEIPT_SERIES`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.clock import ensure_aware
from lms_billing.domain.customers import Address, TaxId
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.errors import InvalidStateTransitionError, OverpaymentError, ValidationError
from lms_billing.money import CurrencyCode, MinorUnits, validate_minor_units


class ReceiptLine(BaseModel):
    """A line as the customer saw it on the invoice (total including tax)."""

    model_config = ConfigDict(frozen=True)

    description: str
    quantity: int | None = None
    amount: int


class Receipt(BaseModel):
    """Proof of a successful payment."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    number: str = Field(min_length=1)
    customer_id: str
    currency: CurrencyCode
    amount_paid: MinorUnits = Field(gt=0)
    paid_at: datetime
    payment_id: str = Field(min_length=1, description="Gateway payment (PaymentIntent, capture).")
    payment_method: str | None = Field(default=None, description="E.g. 'Visa •••• 4242'.")
    invoice_id: str | None = None
    invoice_number: str | None = None
    invoice_total: int | None = None
    amount_remaining: int | None = Field(default=None, description="Still due after this.")
    tax: int = 0
    lines: tuple[ReceiptLine, ...] = ()
    customer_name: str | None = None
    customer_email: str | None = None
    customer_address: Address | None = None
    customer_tax_ids: tuple[TaxId, ...] = ()
    description: str | None = None


def receipt_for_invoice_payment(
    invoice: Invoice,
    *,
    receipt_id: str,
    number: str,
    payment_id: str,
    amount: int,
    paid_at: datetime,
    payment_method: str | None = None,
) -> Receipt:
    """A receipt for a payment of ``amount`` that :func:`~.invoices.mark_paid` recorded.

    Pass the invoice *after* the payment was recorded.

    :raises InvalidStateTransitionError: the invoice was never finalized or is void.
    :raises OverpaymentError: ``amount`` exceeds what the invoice records as paid.
    """
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        raise InvalidStateTransitionError(
            f"Invoice {invoice.id} is {invoice.status.value}; no payment can be receipted."
        )
    paid = validate_minor_units(amount)
    if paid == 0:
        raise ValidationError("A receipt needs an amount larger than zero.")
    if paid > invoice.amount_paid:
        raise OverpaymentError(
            f"The invoice records {invoice.amount_paid} paid, less than {paid}.",
            amount=paid,
            amount_paid=invoice.amount_paid,
        )
    return Receipt(
        id=receipt_id,
        number=number,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        amount_paid=paid,
        paid_at=ensure_aware(paid_at, name="paid_at"),
        payment_id=payment_id,
        payment_method=payment_method,
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        invoice_total=invoice.total,
        amount_remaining=invoice.amount_remaining,
        tax=invoice.tax,
        lines=tuple(
            ReceiptLine(description=line.description, quantity=line.quantity, amount=line.total)
            for line in invoice.lines
        ),
        customer_name=invoice.customer_name,
        customer_email=invoice.customer_email,
        customer_address=invoice.customer_address,
        customer_tax_ids=invoice.customer_tax_ids,
    )


__all__ = ["Receipt", "ReceiptLine", "receipt_for_invoice_payment"]
