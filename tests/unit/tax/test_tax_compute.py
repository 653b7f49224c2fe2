"""Tax arithmetic: inclusive/exclusive, per-line and per-invoice rounding."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.tax import TaxLineItem, TaxRounding
from lms_billing.errors import ValidationError
from lms_billing.money import RoundingMode
from lms_billing.tax.compute import TaxDecision, compute_tax_lines, round_fraction

VAT19 = Decimal("0.19")


def _items(amounts: list[int], behavior: str = "exclusive") -> list[TaxLineItem]:
    return [
        TaxLineItem(line_id=f"l{i}", amount=a, tax_behavior=behavior) for i, a in enumerate(amounts)
    ]


def _decisions(items: list[TaxLineItem], rate: Decimal = VAT19) -> list[TaxDecision]:
    return [TaxDecision(i.line_id, "DE", "vat", rate, "standard_rated") for i in items]


def test_exclusive_tax_is_rate_times_amount_rounded_half_up() -> None:
    items = _items([10_000, 250])  # 250 * 0.19 = 47.5 -> 48 half-up
    lines = compute_tax_lines(items, _decisions(items))
    assert [(line.taxable_amount, line.tax_amount) for line in lines] == [(10_000, 1900), (250, 48)]
    assert not any(line.inclusive for line in lines)


def test_half_even_rounding_is_configurable() -> None:
    items = _items([150])  # 150 * 0.19 = 28.5
    half_up = compute_tax_lines(items, _decisions(items))
    half_even = compute_tax_lines(items, _decisions(items), mode=RoundingMode.HALF_EVEN)
    assert (half_up[0].tax_amount, half_even[0].tax_amount) == (29, 28)


def test_inclusive_tax_is_gross_minus_gross_over_one_plus_rate() -> None:
    items = _items([11_900, 999], "inclusive")
    lines = compute_tax_lines(items, _decisions(items))
    assert (lines[0].taxable_amount, lines[0].tax_amount) == (10_000, 1_900)
    # 999 - 999 / 1.19 = 159.504... -> 160; the net is what is left: 839.
    assert (lines[1].taxable_amount, lines[1].tax_amount) == (839, 160)
    assert all(line.inclusive for line in lines)


def test_per_invoice_rounding_rounds_the_group_once_and_allocates_back() -> None:
    items = _items([333, 333, 333])  # 63.27 each: per line 63 * 3 = 189, exact total 189.81
    per_line = compute_tax_lines(items, _decisions(items))
    per_invoice = compute_tax_lines(items, _decisions(items), rounding=TaxRounding.PER_INVOICE)
    assert sum(line.tax_amount for line in per_line) == 189
    assert [line.tax_amount for line in per_invoice] == [64, 63, 63]


def test_per_invoice_groups_are_per_jurisdiction_and_rate() -> None:
    items = _items([333, 333, 333, 333])
    decisions = _decisions(items[:2]) + _decisions(items[2:], Decimal("0.07"))
    lines = compute_tax_lines(items, decisions, rounding=TaxRounding.PER_INVOICE)
    assert sum(line.tax_amount for line in lines[:2]) == 127  # 126.54 -> 127
    assert sum(line.tax_amount for line in lines[2:]) == 47  # 46.62 -> 47


def test_stacked_inclusive_taxes_leave_net_plus_taxes_equal_to_gross() -> None:
    item = TaxLineItem(line_id="qc", amount=11_497, tax_behavior="inclusive")
    decisions = [
        TaxDecision("qc", "CA", "gst", Decimal("0.05"), "standard_rated"),
        TaxDecision("qc", "CA-QC", "qst", Decimal("0.09975"), "standard_rated"),
    ]
    lines = compute_tax_lines([item], decisions)
    assert lines[0].taxable_amount == 10_000
    assert [line.tax_amount for line in lines] == [500, 997]


def test_taxable_portion_reduces_the_basis() -> None:
    item = TaxLineItem(line_id="tx", amount=10_000)
    decision = TaxDecision(
        "tx",
        "US-TX",
        "sales_tax",
        Decimal("0.0625"),
        "standard_rated",
        taxable_portion=Decimal("0.8"),
    )
    (line,) = compute_tax_lines([item], [decision])
    assert (line.taxable_amount, line.tax_amount) == (8_000, 500)


def test_a_decision_for_an_unknown_line_is_rejected() -> None:
    with pytest.raises(ValidationError):
        compute_tax_lines(_items([100]), [TaxDecision("nope", "DE", "vat", VAT19, "x")])


def test_round_fraction_uses_the_given_mode() -> None:
    assert round_fraction(Fraction(5, 2), RoundingMode.HALF_UP) == 3
    assert round_fraction(Fraction(5, 2), RoundingMode.HALF_EVEN) == 2
    assert round_fraction(Fraction(7, 3), RoundingMode.UP) == 3


amounts = st.lists(st.integers(min_value=0, max_value=10_000_000), min_size=1, max_size=8)
rates = st.sampled_from([Decimal("0.19"), Decimal("0.255"), Decimal("0.09975"), Decimal("0.081")])


@settings(max_examples=60, deadline=None)
@given(amounts=amounts, rate=rates, behavior=st.sampled_from(["inclusive", "exclusive"]))
def test_per_invoice_lines_sum_to_the_rounded_group_total(
    amounts: list[int], rate: Decimal, behavior: str
) -> None:
    items = _items(amounts, behavior)
    lines = compute_tax_lines(items, _decisions(items, rate), rounding=TaxRounding.PER_INVOICE)
    factor = Fraction(rate) / (1 + Fraction(rate)) if behavior == "inclusive" else Fraction(rate)
    exact = sum((Fraction(a) * factor for a in amounts), Fraction(0))
    assert sum(line.tax_amount for line in lines) == round_fraction(exact, RoundingMode.HALF_UP)


@settings(max_examples=60, deadline=None)
@given(
    amounts=amounts,
    rate=rates,
    rounding=st.sampled_from([TaxRounding.PER_LINE, TaxRounding.PER_INVOICE]),
)
def test_inclusive_net_plus_tax_is_always_the_gross(
    amounts: list[int], rate: Decimal, rounding: TaxRounding
) -> None:
    items = _items(amounts, "inclusive")
    lines = compute_tax_lines(items, _decisions(items, rate), rounding=rounding)
    for item, line in zip(items, lines, strict=True):
        assert line.taxable_amount + line.tax_amount == item.amount
        assert line.tax_amount >= 0


@settings(max_examples=40, deadline=None)
@given(amounts=amounts, rounding=st.sampled_from([TaxRounding.PER_LINE, TaxRounding.PER_INVOICE]))
def test_stacked_inclusive_taxes_always_add_up_to_the_gross(
    amounts: list[int], rounding: TaxRounding
) -> None:
    items = _items(amounts, "inclusive")
    decisions = [
        decision
        for item in items
        for decision in (
            TaxDecision(item.line_id, "CA", "gst", Decimal("0.05"), "standard_rated"),
            TaxDecision(item.line_id, "CA-QC", "qst", Decimal("0.09975"), "standard_rated"),
        )
    ]
    lines = compute_tax_lines(items, decisions, rounding=rounding)
    for item in items:
        mine = [line for line in lines if line.line_id == item.line_id]
        assert mine[0].taxable_amount + sum(line.tax_amount for line in mine) == item.amount
