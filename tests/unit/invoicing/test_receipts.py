"""Receipts for successful payments."""

from __future__ import annotations

import pytest

from lms_billing.domain.invoices import add_line, compute_tax, finalize, mark_paid
from lms_billing.domain.receipts import receipt_for_invoice_payment
from lms_billing.errors import InvalidStateTransitionError, OverpaymentError
from lms_billing.errors import ValidationError as BillingValidationError

from .helpers import NOW, FlatVatEngine, draft, make_line, tax_context


def test_receipt_for_a_partial_then_final_payment() -> None:
    invoice = add_line(draft(customer_name="Ada"), make_line("a", 10_000))
    invoice = finalize(compute_tax(invoice, FlatVatEngine(), tax_context()), "INV-7", NOW)
    partly = mark_paid(invoice, 5_000, NOW)
    receipt = receipt_for_invoice_payment(
        partly,
        receipt_id="rct_1",
        number="RCT-2026-000001",
        payment_id="pi_1",
        amount=5_000,
        paid_at=NOW,
        payment_method="Visa •••• 4242",
    )
    assert (receipt.amount_paid, receipt.amount_remaining, receipt.invoice_total) == (
        5_000,
        6_900,
        11_900,
    )
    assert receipt.invoice_number == "INV-7" and receipt.customer_name == "Ada"
    assert receipt.lines[0].amount == 11_900 and receipt.tax == 1_900
    with pytest.raises(OverpaymentError):
        receipt_for_invoice_payment(
            partly, receipt_id="r", number="R", payment_id="p", amount=5_001, paid_at=NOW
        )
    with pytest.raises(BillingValidationError):
        receipt_for_invoice_payment(
            partly, receipt_id="r", number="R", payment_id="p", amount=0, paid_at=NOW
        )


def test_no_receipt_for_drafts() -> None:
    with pytest.raises(InvalidStateTransitionError):
        receipt_for_invoice_payment(
            draft(), receipt_id="r", number="R", payment_id="p", amount=1, paid_at=NOW
        )
