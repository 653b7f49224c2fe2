"""Coupons and promotion codes: definitions and the redemption gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lms_billing.domain.coupons import (
    Coupon,
    CouponDuration,
    CustomerRedemptionStats,
    OrderLine,
    OrderSummary,
    PromotionCode,
    PromotionRestrictions,
    check_redeemable,
    normalize_code,
    redeem,
    start_discount,
)
from lms_billing.errors import (
    CouponCurrencyMismatchError,
    CouponExhaustedError,
    CouponExpiredError,
    CouponNotApplicableError,
    CurrencyMismatchError,
    InvalidCouponError,
    MinimumAmountNotMetError,
    UnknownCurrencyError,
)
from lms_billing.errors import ValidationError as BillingValidationError

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
STATS = CustomerRedemptionStats(customer_id="cus_1")
ORDER = OrderSummary(
    currency="USD",
    subtotal=10_000,
    lines=(OrderLine(amount=10_000, product_id="prod_course", price_id="price_course"),),
)


def percent(**kwargs: object) -> Coupon:
    return Coupon(id="co_pct", percent_off=Decimal("20"), **kwargs)


def fixed(**kwargs: object) -> Coupon:
    return Coupon(id="co_fix", amount_off={"usd": 500, "EUR": 450}, **kwargs)


def code_for(coupon: Coupon, **kwargs: object) -> PromotionCode:
    return PromotionCode(id="promo_1", code="spring24", coupon_id=coupon.id, **kwargs)


# --- definitions ---------------------------------------------------------------------------


def test_amount_off_is_per_currency_and_normalized() -> None:
    coupon = fixed()
    assert coupon.amount_off == {"USD": 500, "EUR": 450}
    assert coupon.amount_off_for("eur") == 450


def test_amount_off_in_a_missing_currency_is_a_coupon_currency_mismatch() -> None:
    with pytest.raises(CouponCurrencyMismatchError) as caught:
        fixed().amount_off_for("JPY")
    assert isinstance(caught.value, CurrencyMismatchError)


@pytest.mark.parametrize("value", ["0", "-5", "100.01", "abc", 0.5, "NaN"])
def test_percent_off_must_be_in_range_and_never_float(value: object) -> None:
    with pytest.raises(InvalidCouponError):
        Coupon(id="c", percent_off=value)


def test_percent_off_accepts_100_and_fractions() -> None:
    assert Coupon(id="c", percent_off="100").percent_off == Decimal(100)
    assert Coupon(id="c", percent_off="12.5").percent_off == Decimal("12.5")


def test_exactly_one_of_percent_and_amount() -> None:
    with pytest.raises(InvalidCouponError):
        Coupon(id="c")
    with pytest.raises(InvalidCouponError):
        Coupon(id="c", percent_off=Decimal(10), amount_off={"USD": 100})


@pytest.mark.parametrize("amounts", [{"USD": 0}, {"USD": -1}, {"USD": 1.5}])
def test_amount_off_must_be_positive_whole_minor_units(amounts: dict[str, object]) -> None:
    # 0 and -1 are InvalidCouponError, 1.5 an InvalidAmountError: both our ValidationError.
    with pytest.raises(BillingValidationError):
        Coupon(id="c", amount_off=amounts)


def test_unknown_currency_in_amount_off() -> None:
    with pytest.raises(UnknownCurrencyError):
        Coupon(id="c", amount_off={"ZZZ": 100})


def test_repeating_needs_months_and_others_refuse_them() -> None:
    with pytest.raises(InvalidCouponError):
        percent(duration=CouponDuration.REPEATING)
    with pytest.raises(InvalidCouponError):
        percent(duration=CouponDuration.FOREVER, duration_in_months=3)
    assert percent(duration="repeating", duration_in_months=3).duration_in_months == 3


def test_promotion_codes_are_case_insensitive() -> None:
    code = code_for(percent())
    assert code.code == "SPRING24"
    assert code.matches("  Spring24 ")
    assert not code.matches("SPRING25")
    assert normalize_code("early-bird_2") == "EARLY-BIRD_2"


@pytest.mark.parametrize("bad", ["", " ", "a", "has space", "emoji🎉", 42])
def test_bad_promotion_code_text(bad: object) -> None:
    with pytest.raises(InvalidCouponError):
        normalize_code(bad)


# --- redemption gate -----------------------------------------------------------------------


def test_a_valid_redemption_passes() -> None:
    coupon = fixed()
    check_redeemable(coupon, code_for(coupon), STATS, ORDER, NOW)


def test_coupon_past_redeem_by_is_expired() -> None:
    coupon = percent(redeem_by=NOW - timedelta(seconds=1))
    with pytest.raises(CouponExpiredError):
        check_redeemable(coupon, None, STATS, ORDER, NOW)
    check_redeemable(percent(redeem_by=NOW), None, STATS, ORDER, NOW)  # inclusive bound


def test_code_past_expires_at_is_expired() -> None:
    coupon = percent()
    code = code_for(coupon, expires_at=NOW - timedelta(days=1))
    with pytest.raises(CouponExpiredError):
        check_redeemable(coupon, code, STATS, ORDER, NOW)


def test_coupon_global_limit_exhausted() -> None:
    coupon = percent(max_redemptions=2, times_redeemed=2)
    with pytest.raises(CouponExhaustedError):
        check_redeemable(coupon, None, STATS, ORDER, NOW)


def test_code_has_its_own_limit() -> None:
    coupon = percent(max_redemptions=100, times_redeemed=1)
    code = code_for(coupon, max_redemptions=1, times_redeemed=1)
    with pytest.raises(CouponExhaustedError):
        check_redeemable(coupon, code, STATS, ORDER, NOW)


def test_per_customer_limit() -> None:
    coupon = percent(max_redemptions_per_customer=1)
    used = CustomerRedemptionStats(customer_id="cus_1", coupon_redemptions=1)
    with pytest.raises(CouponExhaustedError):
        check_redeemable(coupon, None, used, ORDER, NOW)


def test_redeem_counts_both_and_the_last_use_then_fails() -> None:
    coupon = percent(max_redemptions=1)
    code = code_for(coupon, max_redemptions=5)
    check_redeemable(coupon, code, STATS, ORDER, NOW)
    counted, counted_code = redeem(coupon, code)
    assert (counted.times_redeemed, counted_code and counted_code.times_redeemed) == (1, 1)
    assert coupon.times_redeemed == 0  # the input is untouched
    with pytest.raises(CouponExhaustedError):
        check_redeemable(counted, counted_code, STATS, ORDER, NOW)


def test_first_time_transaction_only() -> None:
    returning = CustomerRedemptionStats(customer_id="cus_1", has_prior_transactions=True)
    with pytest.raises(CouponNotApplicableError):
        check_redeemable(percent(first_time_transaction=True), None, returning, ORDER, NOW)
    coupon = percent()
    code = code_for(coupon, restrictions=PromotionRestrictions(first_time_transaction=True))
    with pytest.raises(CouponNotApplicableError):
        check_redeemable(coupon, code, returning, ORDER, NOW)
    check_redeemable(coupon, code, STATS, ORDER, NOW)


def test_minimum_amount_per_currency() -> None:
    coupon = percent(minimum_amount={"USD": 10_001})
    with pytest.raises(MinimumAmountNotMetError):
        check_redeemable(coupon, None, STATS, ORDER, NOW)
    check_redeemable(percent(minimum_amount={"USD": 10_000}), None, STATS, ORDER, NOW)
    euro_order = ORDER.model_copy(update={"currency": "EUR"})
    with pytest.raises(CouponCurrencyMismatchError):
        check_redeemable(coupon, None, STATS, euro_order, NOW)


def test_code_minimum_amount_is_checked_too() -> None:
    coupon = percent()
    code = code_for(coupon, restrictions=PromotionRestrictions(minimum_amount={"USD": 20_000}))
    with pytest.raises(MinimumAmountNotMetError):
        check_redeemable(coupon, code, STATS, ORDER, NOW)


def test_amount_off_coupon_in_the_wrong_currency() -> None:
    order = OrderSummary(currency="JPY", subtotal=5000)
    with pytest.raises(CouponCurrencyMismatchError):
        check_redeemable(fixed(), None, STATS, order, NOW)


def test_restriction_to_products_or_prices() -> None:
    other = percent(applies_to_product_ids=("prod_other",))
    with pytest.raises(CouponNotApplicableError):
        check_redeemable(other, None, STATS, ORDER, NOW)
    check_redeemable(percent(applies_to_product_ids=("prod_course",)), None, STATS, ORDER, NOW)
    check_redeemable(percent(applies_to_price_ids=("price_course",)), None, STATS, ORDER, NOW)


def test_inactive_code_wrong_coupon_and_invalid_coupon() -> None:
    coupon = percent()
    with pytest.raises(CouponNotApplicableError):
        check_redeemable(coupon, code_for(coupon, active=False), STATS, ORDER, NOW)
    with pytest.raises(CouponNotApplicableError):
        check_redeemable(coupon, code_for(fixed()), STATS, ORDER, NOW)
    with pytest.raises(CouponNotApplicableError):
        check_redeemable(percent(valid=False), None, STATS, ORDER, NOW)


def test_code_restricted_to_one_customer() -> None:
    coupon = percent()
    code = code_for(coupon, restrictions=PromotionRestrictions(customer_id="cus_2"))
    with pytest.raises(CouponNotApplicableError):
        check_redeemable(coupon, code, STATS, ORDER, NOW)
    check_redeemable(coupon, code, CustomerRedemptionStats(customer_id="cus_2"), ORDER, NOW)


def test_repeating_discount_ends_after_its_months() -> None:
    coupon = percent(duration="repeating", duration_in_months=3)
    discount = start_discount("di_1", coupon, datetime(2026, 1, 31, tzinfo=UTC), customer_id="c")
    assert discount.end == datetime(2026, 4, 30, tzinfo=UTC)
    assert discount.active_at(datetime(2026, 4, 29, tzinfo=UTC))
    assert not discount.active_at(datetime(2026, 4, 30, tzinfo=UTC))
    forever = start_discount("di_2", percent(duration="forever"), NOW)
    assert forever.end is None and forever.active_at(NOW + timedelta(days=3650))


@pytest.mark.parametrize(
    "fields",
    [{"max_redemptions": 0}, {"max_redemptions_per_customer": -1}, {"times_redeemed": -1}],
)
def test_bad_limits_are_invalid_coupon_errors(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidCouponError):
        percent(**fields)
    if "max_redemptions_per_customer" not in fields:  # a coupon-only limit
        with pytest.raises(InvalidCouponError):
            PromotionCode(id="p", code="ABC", coupon_id="c", **fields)  # type: ignore[arg-type]
