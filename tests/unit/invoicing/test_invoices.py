"""Invoice lines, totals, tax and the Stripe lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.coupons import Coupon
from lms_billing.domain.invoices import (
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    LineDiscountAmount,
    Period,
    add_line,
    apply_coupons,
    can_transition,
    compute_tax,
    delete_draft,
    finalize,
    mark_paid,
    mark_uncollectible,
    remove_line,
    void,
)
from lms_billing.errors import (
    CouponCurrencyMismatchError,
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidQuantityError,
    InvalidStateTransitionError,
    InvoiceHasPaymentsError,
    InvoiceNotEditableError,
    NotFoundError,
    OverpaymentError,
    PluginError,
)
from lms_billing.errors import ValidationError as BillingValidationError
from lms_billing.tax.zero import ZeroTaxEngine

from .helpers import NOW, FlatVatEngine, draft, make_line, tax_context

LATER = NOW + timedelta(days=1)


def open_invoice(*lines: InvoiceLine, engine: object | None = None) -> Invoice:
    invoice = draft()
    for line in lines or (make_line("l1", 10_000),):
        invoice = add_line(invoice, line)
    invoice = compute_tax(invoice, engine or ZeroTaxEngine(), tax_context())  # type: ignore[arg-type]
    return finalize(invoice, "INV-2026-000001", NOW)


# --- lines ---------------------------------------------------------------------------------


def test_line_amount_must_match_unit_amount_times_quantity() -> None:
    with pytest.raises(InvalidAmountError):
        InvoiceLine(id="l", description="x", unit_amount=100, quantity=3, amount=301)
    with pytest.raises(InvalidAmountError):
        InvoiceLine(id="l", description="x", amount=10.5)
    tiered = InvoiceLine(id="l", description="tiered seats", quantity=12, amount=9_000)
    assert tiered.unit_amount is None and tiered.amount == 9_000


def test_line_discounts_have_the_sign_of_the_line_and_never_exceed_it() -> None:
    def credit(*discounts: int) -> InvoiceLine:
        return InvoiceLine(
            id="c",
            description="Unused time",
            amount=-1_000,
            discount_amounts=tuple(
                LineDiscountAmount(coupon_id=f"k{n}", amount=d) for n, d in enumerate(discounts)
            ),
        )

    assert credit(-400, -100).net_amount == -500  # a discounted credit shrinks
    for bad in ((100,), (-1_001,), (-600, -500), (-200, 100)):
        with pytest.raises(InvalidAmountError):
            credit(*bad)
    with pytest.raises(InvalidAmountError):
        InvoiceLine(
            id="l",
            description="x",
            amount=1_000,
            discount_amounts=(LineDiscountAmount(coupon_id="k", amount=-1),),
        )


def test_subscription_and_proration_lines_carry_periods() -> None:
    period = Period(start=NOW, end=NOW + timedelta(days=30))
    credit = InvoiceLine(
        id="p1",
        description="Unused time on Basic",
        kind=InvoiceLineKind.SUBSCRIPTION,
        unit_amount=-1_500,
        amount=-1_500,
        period=period,
        proration=True,
        price_id="price_basic",
    )
    charge = make_line("p2", 3_000, kind="subscription", period=period, proration=True)
    invoice = add_line(add_line(draft(), credit), charge)
    assert invoice.subtotal == 1_500
    assert [line.proration for line in invoice.lines] == [True, True]
    with pytest.raises(BillingValidationError):
        Period(start=NOW, end=NOW - timedelta(seconds=1))
    with pytest.raises(BillingValidationError):
        Period(start=datetime(2026, 1, 1), end=datetime(2026, 2, 1))  # naive


def test_add_and_remove_lines_on_a_draft() -> None:
    invoice = add_line(add_line(draft(), make_line("a", 1_000)), make_line("b", 500, 2))
    assert invoice.subtotal == 2_000
    with pytest.raises(BillingValidationError):
        add_line(invoice, make_line("a", 1))
    with pytest.raises(CurrencyMismatchError):
        add_line(invoice, make_line("c", 1), currency="USD")
    smaller = remove_line(invoice, "a")
    assert [line.id for line in smaller.lines] == ["b"] and invoice.subtotal == 2_000
    with pytest.raises(NotFoundError):
        remove_line(invoice, "missing")


# --- totals --------------------------------------------------------------------------------


def test_totals_with_discount_and_exclusive_tax() -> None:
    invoice = add_line(add_line(draft(), make_line("a", 6_000)), make_line("b", 4_000))
    invoice = apply_coupons(invoice, [Coupon(id="ten", percent_off=Decimal(10))])
    engine = FlatVatEngine()
    invoice = compute_tax(invoice, engine, tax_context())
    # Tax is computed on discounted amounts: 5400 and 3600.
    assert [item.amount for item in engine.requests[0].items] == [5_400, 3_600]
    assert invoice.subtotal == 10_000
    assert invoice.total_discount == 1_000
    assert invoice.tax == 1_026 + 684
    assert invoice.total_excluding_tax == 9_000
    assert invoice.total == 9_000 + 1_710
    assert invoice.amount_due == invoice.total == invoice.amount_remaining


def test_inclusive_tax_is_not_added_to_the_total() -> None:
    line = make_line("a", 11_900, tax_behavior="inclusive")
    invoice = compute_tax(add_line(draft(), line), FlatVatEngine(), tax_context())
    assert invoice.tax == 1_900
    assert invoice.total == 11_900
    assert invoice.total_excluding_tax == 10_000
    assert invoice.tax_breakdown()[0].inclusive is True


def test_tax_breakdown_groups_per_rate() -> None:
    invoice = add_line(add_line(draft(), make_line("a", 1_000)), make_line("b", 2_000))
    invoice = compute_tax(invoice, FlatVatEngine(), tax_context())
    [row] = invoice.tax_breakdown()
    assert (row.jurisdiction, row.rate, row.taxable_amount, row.amount) == (
        "DE",
        Decimal("0.19"),
        3_000,
        570,
    )


def test_discount_larger_than_subtotal_clamps_to_zero_and_finalize_marks_paid() -> None:
    invoice = add_line(draft(), make_line("a", 1_000))
    invoice = apply_coupons(invoice, [Coupon(id="huge", amount_off={"EUR": 99_999})])
    assert invoice.total_discount == 1_000 and invoice.total == 0
    invoice = compute_tax(invoice, FlatVatEngine(), tax_context())
    final = finalize(invoice, "INV-1", NOW)
    assert final.status is InvoiceStatus.PAID and final.amount_due == 0


def test_coupon_in_wrong_currency_leaves_the_invoice_unchanged() -> None:
    invoice = add_line(draft(), make_line("a", 1_000))
    with pytest.raises(CouponCurrencyMismatchError):
        apply_coupons(invoice, [Coupon(id="usd", amount_off={"USD": 100})])
    assert invoice.coupons == () and invoice.total_discount == 0


def test_customer_credit_balance_reduces_amount_due() -> None:
    invoice = compute_tax(add_line(draft(), make_line("a", 5_000)), ZeroTaxEngine(), tax_context())
    final = finalize(invoice, "INV-1", NOW, customer_balance=1_200)
    assert (final.applied_balance, final.amount_due, final.total) == (1_200, 3_800, 5_000)
    covered = finalize(invoice, "INV-1", NOW, customer_balance=9_000)
    assert covered.applied_balance == 5_000 and covered.status is InvoiceStatus.PAID


def test_editing_clears_stale_tax() -> None:
    invoice = compute_tax(add_line(draft(), make_line("a", 1_000)), FlatVatEngine(), tax_context())
    edited = add_line(invoice, make_line("b", 1_000))
    assert edited.tax == 0 and not edited.tax_computed
    with pytest.raises(InvalidStateTransitionError):
        finalize(edited, "INV-1", NOW)


def test_engine_errors_are_plugin_errors() -> None:
    class Declines(ZeroTaxEngine):
        def handles(self, request: object) -> bool:
            return False

    invoice = add_line(draft(), make_line("a", 1_000))
    with pytest.raises(PluginError):
        compute_tax(invoice, Declines(), tax_context())


def test_tax_review_blocks_finalization_unless_allowed() -> None:
    invoice = add_line(draft(), make_line("a", 1_000))
    invoice = compute_tax(invoice, ZeroTaxEngine(), tax_context()).model_copy(
        update={"tax_needs_review": True, "tax_review_reasons": ("threshold",)}
    )
    with pytest.raises(InvalidStateTransitionError):
        finalize(invoice, "INV-1", NOW)
    assert finalize(invoice, "INV-1", NOW, allow_tax_review=True).status is InvoiceStatus.OPEN


def test_tax_notes_are_kept_for_rendering() -> None:
    engine = FlatVatEngine(notes=("Reverse charge",))
    invoice = compute_tax(add_line(draft(), make_line("a", 1_000)), engine, tax_context())
    assert invoice.tax_notes == ("Reverse charge",) and invoice.tax_engine == "flat_vat"


# --- lifecycle -----------------------------------------------------------------------------


def test_transition_table_matches_stripe() -> None:
    s = InvoiceStatus
    allowed = {(a, b) for a in s for b in s if can_transition(a, b)}
    assert allowed == {
        (s.DRAFT, s.OPEN),
        (s.OPEN, s.PAID),
        (s.OPEN, s.VOID),
        (s.OPEN, s.UNCOLLECTIBLE),
        (s.UNCOLLECTIBLE, s.PAID),
        (s.UNCOLLECTIBLE, s.VOID),
    }


def test_finalize_numbers_and_opens() -> None:
    invoice = open_invoice()
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.number == "INV-2026-000001" and invoice.finalized_at == NOW
    with pytest.raises(InvalidStateTransitionError):
        finalize(invoice, "INV-2", NOW)
    with pytest.raises(BillingValidationError):
        finalize(compute_tax(draft(), ZeroTaxEngine(), tax_context()), " ", NOW)


def test_finalized_invoices_are_immutable() -> None:
    invoice = open_invoice()
    edits: tuple[Callable[[], object], ...] = (
        lambda: add_line(invoice, make_line("x", 1)),
        lambda: remove_line(invoice, "l1"),
        lambda: apply_coupons(invoice, []),
        lambda: compute_tax(invoice, ZeroTaxEngine(), tax_context()),
    )
    for edit in edits:
        with pytest.raises(InvoiceNotEditableError):
            edit()
    assert invoice.lines[0].amount == 10_000
    with pytest.raises(Exception, match="frozen"):
        invoice.status = InvoiceStatus.PAID  # type: ignore[misc]


def test_only_drafts_can_be_deleted() -> None:
    delete_draft(draft())
    with pytest.raises(InvalidStateTransitionError):
        delete_draft(open_invoice())


def test_partial_then_full_payment() -> None:
    invoice = mark_paid(open_invoice(), 4_000, NOW)
    assert invoice.status is InvoiceStatus.OPEN
    assert (invoice.amount_paid, invoice.amount_remaining) == (4_000, 6_000)
    paid = mark_paid(invoice, 6_000, LATER)
    assert paid.status is InvoiceStatus.PAID and paid.paid_at == LATER
    with pytest.raises(InvalidStateTransitionError):
        mark_paid(paid, 1, LATER)


def test_bad_payments_leave_the_invoice_unchanged() -> None:
    invoice = open_invoice()
    with pytest.raises(OverpaymentError):
        mark_paid(invoice, 10_001, NOW)
    with pytest.raises(InvalidAmountError):
        mark_paid(invoice, 0, NOW)
    with pytest.raises(InvalidAmountError):
        mark_paid(invoice, -5, NOW)
    assert invoice.amount_paid == 0 and invoice.status is InvoiceStatus.OPEN


def test_void_and_uncollectible_paths() -> None:
    invoice = open_invoice()
    bad_debt = mark_uncollectible(invoice, NOW)
    assert bad_debt.status is InvoiceStatus.UNCOLLECTIBLE
    assert mark_paid(bad_debt, 10_000, LATER, paid_out_of_band=True).paid_out_of_band
    voided = void(bad_debt, LATER)
    assert voided.status is InvoiceStatus.VOID and voided.number == invoice.number
    actions: tuple[Callable[[], object], ...] = (
        lambda: void(voided, LATER),
        lambda: mark_uncollectible(voided, LATER),
        lambda: mark_paid(voided, 1, LATER),
        lambda: mark_uncollectible(bad_debt, LATER),
        lambda: void(draft(), LATER),
        lambda: mark_paid(draft(), 1, LATER),
        lambda: void(mark_paid(invoice, 10_000, NOW), LATER),
    )
    for action in actions:
        with pytest.raises(InvalidStateTransitionError):
            action()


def test_a_negative_total_is_credited_to_the_customer_at_finalization() -> None:
    downgrade = draft()
    downgrade = add_line(downgrade, make_line("unused_pro", -1_000))
    downgrade = add_line(downgrade, make_line("rest_of_basic", 291))
    taxed = compute_tax(downgrade, FlatVatEngine(), tax_context())
    assert taxed.total == -709 - 135  # the credit's tax is credited too
    final = finalize(taxed, "INV-2026-000002", NOW, customer_balance=5_000)
    assert (final.status, final.amount_due, final.paid_at) == (InvoiceStatus.PAID, 0, NOW)
    assert (final.credited_to_balance, final.applied_balance) == (844, 0)
    positive = finalize(compute_tax(draft(), ZeroTaxEngine(), tax_context()), "INV-3", NOW)
    assert positive.credited_to_balance == 0


def test_an_invoice_with_payments_cannot_be_voided() -> None:
    partly_paid = mark_paid(open_invoice(), 4_000, NOW)
    written_off = mark_uncollectible(partly_paid, NOW)
    for invoice in (partly_paid, written_off):
        with pytest.raises(InvoiceHasPaymentsError) as caught:
            void(invoice, LATER)
        assert caught.value.details == {"invoice": invoice.id, "amount_paid": 4_000}
        assert "credit note" in caught.value.message
    assert isinstance(caught.value, InvalidStateTransitionError)  # callers catching it still do
    assert void(open_invoice(), LATER).status is InvoiceStatus.VOID  # unpaid: allowed


def test_round_trips_through_json_with_totals() -> None:
    invoice = open_invoice(engine=FlatVatEngine())
    data = invoice.model_dump(mode="json")
    assert data["total"] == 11_900 and data["amount_due"] == 11_900
    assert Invoice.model_validate(data) == invoice


def test_naive_times_are_rejected() -> None:
    invoice = compute_tax(draft(), ZeroTaxEngine(), tax_context())
    with pytest.raises(BillingValidationError):
        finalize(invoice, "INV-1", datetime(2026, 1, 1))
    with pytest.raises(BillingValidationError):
        Invoice(id="in_2", customer_id="c", currency="EUR", created_at=datetime(2026, 1, 1))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=500_000), min_size=1, max_size=6),
    st.lists(st.integers(min_value=1, max_value=1_000_000), max_size=3),
    st.integers(min_value=1, max_value=100),
)
def test_invoice_discounts_sum_and_totals_never_negative(
    amounts: list[int], fixed_offs: list[int], percent: int
) -> None:
    invoice = draft()
    for index, amount in enumerate(amounts):
        invoice = add_line(invoice, make_line(f"l{index}", amount))
    coupons = [Coupon(id=f"a{i}", amount_off={"EUR": a}) for i, a in enumerate(fixed_offs)]
    coupons.append(Coupon(id="pct", percent_off=Decimal(percent)))
    invoice = compute_tax(apply_coupons(invoice, coupons), FlatVatEngine(), tax_context())
    line_discounts = sum(d.amount for line in invoice.lines for d in line.discount_amounts)
    assert line_discounts == invoice.total_discount <= invoice.subtotal
    assert invoice.total_excluding_tax >= 0 and invoice.tax >= 0
    assert invoice.total == invoice.total_excluding_tax + invoice.tax >= 0
    assert invoice.amount_due >= 0


@pytest.mark.parametrize("quantity", [-1, 2.5, True, "3"])
def test_bad_quantities_are_invalid_quantity_errors(quantity: object) -> None:
    with pytest.raises(InvalidQuantityError):
        InvoiceLine(id="l", description="x", quantity=quantity, amount=0)  # type: ignore[arg-type]
