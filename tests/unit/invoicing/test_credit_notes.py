"""Credit notes: by line, by quantity, by amount; outcomes and limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.coupons import Coupon
from lms_billing.domain.credit_notes import (
    CreditLineRequest,
    CreditNote,
    CreditNoteReason,
    CreditNoteRequest,
    apply_credit_note,
    credit_invoice,
    issue_credit_note,
)
from lms_billing.domain.invoices import (
    Invoice,
    InvoiceStatus,
    add_line,
    apply_coupons,
    compute_tax,
    finalize,
    mark_paid,
    void,
)
from lms_billing.errors import (
    CreditExceedsInvoiceError,
    InvalidAmountError,
    InvalidQuantityError,
    InvoiceNotCreditableError,
    NotFoundError,
)
from lms_billing.errors import ValidationError as BillingValidationError

from .helpers import NOW, FlatVatEngine, draft, make_line, tax_context


def invoice_with_vat(*, paid: bool = False) -> Invoice:
    """Seats 5 x 20.00 and a course 50.00, 19 % VAT: total 178.50."""
    invoice = add_line(draft(), make_line("seats", 2_000, 5))
    invoice = add_line(invoice, make_line("course", 5_000))
    invoice = finalize(compute_tax(invoice, FlatVatEngine(), tax_context()), "INV-1", NOW)
    assert invoice.total == 17_850
    return mark_paid(invoice, invoice.amount_due, NOW) if paid else invoice


def credit(invoice: Invoice, previous: tuple[CreditNote, ...] = (), **kwargs: object) -> CreditNote:
    return issue_credit_note(
        invoice,
        CreditNoteRequest(**kwargs),
        credit_note_id=f"cn_{len(previous)}",
        number=f"CN-{len(previous) + 1}",
        now=NOW,
        previous=previous,
    )


def test_full_credit_of_an_open_invoice_reduces_amount_due_and_settles_it() -> None:
    invoice = invoice_with_vat()
    note, updated = credit_invoice(
        invoice,
        CreditNoteRequest(amount=17_850, reason=CreditNoteReason.DUPLICATE),
        credit_note_id="cn_1",
        number="CN-2026-000001",
        now=NOW,
    )
    assert (note.subtotal, note.tax, note.total) == (15_000, 2_850, 17_850)
    assert (note.pre_payment_amount, note.post_payment_amount) == (17_850, 0)
    assert updated.amount_due == 0 and updated.status is InvoiceStatus.PAID
    assert updated.pre_payment_credit_notes_amount == 17_850
    assert invoice.amount_due == 17_850  # the input is untouched


def test_credit_by_quantity_credits_amount_and_tax_in_proportion() -> None:
    invoice = invoice_with_vat()
    note = credit(invoice, lines=(CreditLineRequest(invoice_line_id="seats", quantity=2),))
    [line] = note.lines
    assert (line.quantity, line.unit_amount, line.amount, line.tax) == (2, 2_000, 4_000, 760)
    assert note.total == 4_760
    updated = apply_credit_note(invoice, note, NOW)
    assert updated.amount_due == 17_850 - 4_760 and updated.status is InvoiceStatus.OPEN


def test_repeated_quantity_credits_end_exactly_at_the_line_total() -> None:
    invoice = add_line(draft(), make_line("seats", 333, 3))
    invoice = apply_coupons(invoice, [Coupon(id="c", amount_off={"EUR": 100})])
    invoice = finalize(compute_tax(invoice, FlatVatEngine(), tax_context()), "INV-1", NOW)
    notes: tuple[CreditNote, ...] = ()
    for _ in range(3):
        request = (CreditLineRequest(invoice_line_id="seats", quantity=1),)
        notes = (*notes, credit(invoice, notes, lines=request))
    assert sum(n.total for n in notes) == invoice.total
    with pytest.raises(CreditExceedsInvoiceError):
        credit(invoice, notes, lines=(CreditLineRequest(invoice_line_id="seats", quantity=1),))


def test_credit_by_line_amount_before_tax() -> None:
    note = credit(
        invoice_with_vat(), lines=(CreditLineRequest(invoice_line_id="course", amount=1_000),)
    )
    assert (note.subtotal, note.tax, note.total) == (1_000, 190, 1_190)


def test_credit_by_total_amount_allocates_across_lines_and_tax_exactly() -> None:
    note = credit(invoice_with_vat(), amount=10_001)
    assert note.total == 10_001
    assert sum(line.amount + line.tax for line in note.lines) == 10_001
    assert {line.invoice_line_id for line in note.lines} == {"seats", "course"}
    # Roughly 19 % of the net stays tax; allocation keeps the exact sum.
    assert abs(note.tax - round(note.subtotal * Decimal("0.19"))) <= 2


def test_crediting_more_than_invoiced_is_refused_and_changes_nothing() -> None:
    invoice = invoice_with_vat()
    with pytest.raises(CreditExceedsInvoiceError):
        credit(invoice, amount=17_851)
    with pytest.raises(CreditExceedsInvoiceError):
        credit(invoice, lines=(CreditLineRequest(invoice_line_id="seats", quantity=6),))
    with pytest.raises(CreditExceedsInvoiceError):
        credit(invoice, lines=(CreditLineRequest(invoice_line_id="course", amount=5_001),))
    first = credit(invoice, amount=17_000)
    with pytest.raises(CreditExceedsInvoiceError):
        credit(invoice, (first,), amount=851)
    assert credit(invoice, (first,), amount=850).total == 850
    assert invoice.amount_due == 17_850 and invoice.pre_payment_credit_notes_amount == 0


def test_void_previous_credit_notes_do_not_count() -> None:
    invoice = invoice_with_vat()
    first = credit(invoice, amount=17_850).model_copy(update={"status": "void"})
    assert credit(invoice, (first,), amount=17_850).total == 17_850


def test_paid_invoice_credit_goes_to_refund_out_of_band_and_balance() -> None:
    invoice = invoice_with_vat(paid=True)
    note = credit(invoice, amount=10_000, refund_amount=6_000, out_of_band_amount=1_000)
    assert (note.pre_payment_amount, note.post_payment_amount) == (0, 10_000)
    assert (note.refund_amount, note.out_of_band_amount, note.credit_amount) == (
        6_000,
        1_000,
        3_000,
    )
    updated = apply_credit_note(invoice, note, NOW)
    assert updated.status is InvoiceStatus.PAID
    assert updated.post_payment_credit_notes_amount == 10_000
    assert updated.amount_due == invoice.amount_due  # already paid: amount due is history


def test_refunds_cannot_exceed_the_post_payment_part_or_what_was_paid() -> None:
    open_invoice = invoice_with_vat()
    with pytest.raises(CreditExceedsInvoiceError):
        credit(open_invoice, amount=1_000, refund_amount=1)
    partly_paid = mark_paid(open_invoice, 5_000, NOW)
    # 12850 remains due: a 15000 credit reduces it to zero and 2150 can be refunded.
    note = credit(partly_paid, amount=15_000, refund_amount=2_150)
    assert (note.pre_payment_amount, note.post_payment_amount) == (12_850, 2_150)
    assert apply_credit_note(partly_paid, note, NOW).status is InvoiceStatus.PAID
    paid = invoice_with_vat(paid=True)
    first = credit(paid, amount=10_000, refund_amount=10_000)
    with pytest.raises(CreditExceedsInvoiceError):
        credit(paid, (first,), amount=7_850, refund_amount=7_851)


def test_only_finalized_non_void_invoices_take_credit_notes() -> None:
    with pytest.raises(InvoiceNotCreditableError):
        credit(draft(), amount=1)
    with pytest.raises(InvoiceNotCreditableError):
        credit(void(invoice_with_vat(), NOW + timedelta(hours=1)), amount=1)


def test_bad_requests() -> None:
    with pytest.raises(BillingValidationError):
        CreditNoteRequest()
    with pytest.raises(BillingValidationError):
        CreditNoteRequest(amount=5, lines=(CreditLineRequest(invoice_line_id="a", quantity=1),))
    with pytest.raises(BillingValidationError):
        CreditLineRequest(invoice_line_id="a", quantity=1, amount=5)
    with pytest.raises(InvalidAmountError):
        CreditNoteRequest(amount=0)
    with pytest.raises(InvalidAmountError):
        CreditNoteRequest(amount=-5)
    with pytest.raises(NotFoundError):
        credit(invoice_with_vat(), lines=(CreditLineRequest(invoice_line_id="nope", amount=1),))
    with pytest.raises(BillingValidationError):
        apply_credit_note(
            invoice_with_vat().model_copy(update={"id": "other"}),
            credit(invoice_with_vat(), amount=1),
            NOW,
        )


def test_inclusive_lines_credit_gross_with_tax_inside() -> None:
    invoice = add_line(draft(), make_line("a", 11_900, tax_behavior="inclusive"))
    invoice = finalize(compute_tax(invoice, FlatVatEngine(), tax_context()), "INV-1", NOW)
    note = credit(invoice, amount=5_950)
    assert note.total == 5_950 and note.tax == 950 and note.subtotal == 5_950


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=6_000), min_size=1, max_size=6))
def test_successive_amount_credits_sum_exactly_and_never_exceed(parts: list[int]) -> None:
    invoice = invoice_with_vat()
    notes: tuple[CreditNote, ...] = ()
    credited = 0
    for part in parts:
        if credited + part > invoice.total:
            with pytest.raises(CreditExceedsInvoiceError):
                credit(invoice, notes, amount=part)
            continue
        note = credit(invoice, notes, amount=part)
        assert note.total == part
        notes = (*notes, note)
        credited += part
    assert sum(n.total for n in notes) == credited <= invoice.total


@pytest.mark.parametrize("quantity", [0, -2, True])
def test_bad_credit_quantities(quantity: int) -> None:
    with pytest.raises(InvalidQuantityError):
        CreditLineRequest(invoice_line_id="a", quantity=quantity)
