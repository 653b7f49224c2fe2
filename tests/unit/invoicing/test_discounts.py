"""Discount order, clamping and largest-remainder allocation across lines."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.coupons import Coupon
from lms_billing.domain.discounts import (
    DiscountableLine,
    DiscountOrder,
    apply_discounts,
    order_coupons,
)
from lms_billing.errors import (
    CouponAlreadyAppliedError,
    CouponCurrencyMismatchError,
    CouponNotStackableError,
)
from lms_billing.errors import ValidationError as BillingValidationError
from lms_billing.money import RoundingMode


def line(line_id: str, amount: int, **kwargs: object) -> DiscountableLine:
    return DiscountableLine(line_id=line_id, amount=amount, **kwargs)


PCT20 = Coupon(id="pct20", percent_off=Decimal(20))
OFF500 = Coupon(id="off500", amount_off={"USD": 500})


def test_percent_applies_before_amount_by_default() -> None:
    result = apply_discounts([line("a", 10_000)], [OFF500, PCT20], "USD")
    # 20 % of 100.00 = 20.00, then 5.00 off: 25.00 (amount first would give 24.00).
    assert result.per_coupon == {"pct20": 2000, "off500": 500}
    assert result.total == 2500


def test_amount_first_is_configurable() -> None:
    result = apply_discounts(
        [line("a", 10_000)], [PCT20, OFF500], "USD", order=DiscountOrder.AMOUNT_FIRST
    )
    assert result.per_coupon == {"off500": 500, "pct20": 1900}


def test_stacking_order_sorts_within_a_kind() -> None:
    first = Coupon(id="z_first", percent_off=Decimal(10), stacking_order=-1)
    second = Coupon(id="a_second", percent_off=Decimal(50), stacking_order=5)
    assert [c.id for c in order_coupons([second, first])] == ["z_first", "a_second"]
    result = apply_discounts([line("a", 10_000)], [second, first], "USD")
    assert result.per_coupon == {"z_first": 1000, "a_second": 4500}  # compounding


def test_non_stackable_coupon_cannot_combine() -> None:
    alone = Coupon(id="alone", percent_off=Decimal(10), stackable=False)
    assert apply_discounts([line("a", 100)], [alone], "USD").total == 10
    with pytest.raises(CouponNotStackableError):
        apply_discounts([line("a", 100)], [alone, OFF500], "USD")


def test_same_coupon_twice_is_rejected() -> None:
    with pytest.raises(CouponAlreadyAppliedError) as caught:
        order_coupons([PCT20, OFF500, PCT20])
    assert caught.value.details == {"coupons": ["pct20"]}
    assert not isinstance(caught.value, BillingValidationError)  # a coupon error, not bad input


def test_amount_larger_than_subtotal_clamps_to_zero_total() -> None:
    big = Coupon(id="big", amount_off={"USD": 50_000})
    result = apply_discounts([line("a", 300), line("b", 700)], [big], "USD")
    assert result.total == 1000
    assert result.per_line == {"a": 300, "b": 700}


def test_coupon_in_wrong_currency() -> None:
    with pytest.raises(CouponCurrencyMismatchError):
        apply_discounts([line("a", 100)], [OFF500], "EUR")


def test_only_eligible_lines_are_discounted() -> None:
    course_only = Coupon(id="course", amount_off={"USD": 300}, applies_to_product_ids=("p1",))
    result = apply_discounts(
        [line("a", 1000, product_id="p1"), line("b", 1000, product_id="p2")], [course_only], "USD"
    )
    assert result.per_line == {"a": 300}
    # An eligible base smaller than the coupon clamps to that base.
    result = apply_discounts(
        [line("a", 200, product_id="p1"), line("b", 1000, product_id="p2")], [course_only], "USD"
    )
    assert result.per_line == {"a": 200}


def test_non_discountable_lines_are_skipped_and_credit_lines_discounted_too() -> None:
    result = apply_discounts(
        [line("a", 1000), line("fee", 500, discountable=False), line("credit", -300)],
        [Coupon(id="all", percent_off=Decimal(100))],
        "USD",
    )
    # 100 % of the charge and of the credit: only the non-discountable fee is left to pay.
    assert result.per_line == {"a": 1000, "credit": -300}
    assert result.total == 700 and result.per_coupon == {"all": 700}


def test_a_percent_coupon_discounts_a_proration_credit_like_its_charge() -> None:
    """50 % coupon, upgrade mid-period: the unused time was paid at half price, so the
    credit for it is halved too (the audit's over-discount: 2516 billed 1000, not 1258)."""
    lines = [line("pro", 2000), line("unused_basic", -742), line("rest_of_pro", 1258)]
    result = apply_discounts(lines, [Coupon(id="half", percent_off=Decimal(50))], "USD")
    assert result.per_line == {"pro": 1000, "unused_basic": -371, "rest_of_pro": 629}
    assert sum(item.amount for item in lines) - result.total == 1258


def test_percent_on_credits_rounds_once_on_the_signed_net() -> None:
    third = Coupon(id="third", percent_off=Decimal("33.33"))
    # A charge and an equal credit cancel exactly, whatever the rounding of each side.
    alone = apply_discounts([line("a", 1)], [third], "USD")
    paired = apply_discounts([line("a", 1), line("b", 4), line("c", -4)], [third], "USD")
    # Rounding each side would give round(5 x 33.33 %) - round(4 x 33.33 %) = 2 - 1 = 1;
    # rounding the signed net gives round(1 x 33.33 %) = 0, as without the pair.
    assert alone.total == paired.total == 0
    assert paired.per_line["c"] == -1 and paired.per_line.get("a", 0) + paired.per_line["b"] == 1


def test_a_net_credit_is_discounted_but_fixed_amounts_leave_it_alone() -> None:
    lines = [line("charge", 291), line("credit", -1000)]
    pct = apply_discounts(lines, [Coupon(id="p", percent_off=Decimal(20))], "USD")
    assert pct.total == -142  # round(-709 x 20 %): the credit shrinks to -567
    assert pct.per_line == {"charge": 58, "credit": -200}
    assert apply_discounts(lines, [OFF500], "USD").total == 0  # nothing to take a fixed 5 off


def test_total_discount_never_exceeds_net_subtotal_with_credits() -> None:
    result = apply_discounts([line("a", 1000), line("credit", -800)], [OFF500], "USD")
    assert result.total == 200
    assert result.per_line == {"a": 200}  # fixed amounts come off charges only


def test_a_fixed_amount_is_capped_by_the_net_of_its_eligible_lines() -> None:
    course_only = Coupon(id="course", amount_off={"USD": 900}, applies_to_product_ids=("p1",))
    lines = [
        line("course", 1000, product_id="p1"),
        line("course_credit", -600, product_id="p1"),
        line("other", 5000, product_id="p2"),
    ]
    assert apply_discounts(lines, [course_only], "USD").per_line == {"course": 400}


def test_allocation_is_largest_remainder() -> None:
    result = apply_discounts(
        [line("a", 1), line("b", 1), line("c", 1)],
        [Coupon(id="two", amount_off={"USD": 2})],
        "USD",
    )
    assert result.per_line == {"a": 1, "b": 1}


def test_percent_rounding_is_explicit() -> None:
    lines = [line("a", 25)]
    coupon = Coupon(id="p", percent_off=Decimal(10))  # 2.5 minor units
    assert apply_discounts(lines, [coupon], "USD").total == 3  # half-up default
    assert apply_discounts(lines, [coupon], "USD", rounding=RoundingMode.HALF_EVEN).total == 2


amounts = st.lists(st.integers(min_value=-5_000, max_value=1_000_000), min_size=1, max_size=8)
coupon_strategy = st.one_of(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2).map(
        lambda p: Coupon(id=f"p{p}", percent_off=p)
    ),
    st.integers(min_value=1, max_value=2_000_000).map(
        lambda a: Coupon(id=f"a{a}", amount_off={"EUR": a})
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    amounts,
    st.lists(coupon_strategy, max_size=4, unique_by=lambda c: c.id),
    st.sampled_from(list(DiscountOrder)),
)
def test_line_discounts_sum_exactly_and_totals_keep_their_sign(
    values: list[int], coupons: list[Coupon], order: DiscountOrder
) -> None:
    lines = [line(f"l{i}", v) for i, v in enumerate(values)]
    result = apply_discounts(lines, coupons, "EUR", order=order)
    assert sum(a.amount for a in result.allocations) == result.total
    assert sum(result.per_coupon.values()) == result.total
    for item in lines:
        taken = result.per_line.get(item.line_id, 0)
        # Each line's discount has the line's sign and never exceeds it.
        assert 0 <= taken <= item.amount or item.amount <= taken <= 0
    net = sum(values) - result.total
    if sum(values) >= 0:
        assert 0 <= net <= sum(values)  # never negative, never more than before
    else:
        assert sum(values) <= net <= 0  # a credit stays a credit, never a larger one
