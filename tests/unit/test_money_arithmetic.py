"""Money arithmetic is exact in the private context, rounding modes are accepted by name, and
operations money has no meaning for fail with typed errors, never py-moneyed's TypeError."""

from __future__ import annotations

import decimal
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms_billing.domain.catalog import Price
from lms_billing.domain.fx import FxRate
from lms_billing.domain.pricing import price_quote
from lms_billing.errors import InvalidAmountError, InvalidRoundingModeError, ValidationError
from lms_billing.money import (
    Money,
    RoundingMode,
    format_money,
    from_minor_units,
    quantize,
    round_minor,
    round_money,
    rounding_mode,
    to_minor_units,
)
from lms_billing.settings import BillingSettings

NOW = datetime(2026, 1, 1, tzinfo=UTC)
USD = "USD"

# --- rounding modes by name ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["half_even", "HALF_EVEN", "half-even", " Half_Even "])
def test_rounding_modes_are_accepted_by_name(name: str) -> None:
    assert rounding_mode(name) is RoundingMode.HALF_EVEN
    assert RoundingMode(name) is RoundingMode.HALF_EVEN
    assert round_money(Money("2.665", USD), name) == Money("2.66", USD)
    assert quantize(Decimal("2.665"), USD, name) == Decimal("2.66")
    assert round_minor(Decimal("2.5"), name) == 2
    assert to_minor_units(Money("0.125", USD), rounding=name) == 12


def test_half_up_by_name_differs_from_half_even_by_name() -> None:
    assert round_money(Money("2.665", USD), "half_up") == Money("2.67", USD)
    assert round_minor(Decimal("2.5"), "half_up") == 3


@pytest.mark.parametrize("bad", ["bogus", "", None, 3, RoundingMode])
def test_unknown_rounding_modes_are_a_typed_validation_error(bad: object) -> None:
    calls: list[Callable[[], object]] = [
        lambda: round_money(Money("1", USD), bad),  # type: ignore[arg-type]
        lambda: quantize(Decimal("1"), USD, bad),  # type: ignore[arg-type]
        lambda: round_minor(Decimal("1"), bad),  # type: ignore[arg-type]
    ]
    if bad is not None:  # to_minor_units(rounding=None) means "must already be exact"
        calls.append(lambda: to_minor_units(Money("1", USD), rounding=bad))  # type: ignore[arg-type]
    for call in calls:
        with pytest.raises(InvalidRoundingModeError) as raised:
            call()
        assert isinstance(raised.value, ValidationError)
        assert not isinstance(raised.value, ValueError | AttributeError)


def test_rounding_mode_constructor_raises_the_typed_error() -> None:
    with pytest.raises(InvalidRoundingModeError):
        RoundingMode("bogus")


def test_price_quote_takes_a_rounding_name() -> None:
    cent = Price(product_id="prod_x", currency=USD, unit_amount=1, created_at=NOW)
    half = FxRate(base=USD, quote="GBP", rate=Decimal("0.5"), as_of=NOW, source="test")
    # 0.01 USD -> 0.005 GBP: half-even rounds the tie down, half-up up.
    assert price_quote(cent, 1, "GBP", fx_rate=half, rounding="half_even").subtotal == 0  # type: ignore[arg-type]
    assert price_quote(cent, 1, "GBP", fx_rate=half, rounding="HALF_UP").subtotal == 1  # type: ignore[arg-type]
    with pytest.raises(InvalidRoundingModeError):
        price_quote(cent, 1, "GBP", fx_rate=half, rounding="bogus")  # type: ignore[arg-type]


def test_settings_parse_rounding_names() -> None:
    assert BillingSettings(rounding="half_even").rounding is RoundingMode.HALF_EVEN  # type: ignore[arg-type]
    with pytest.raises(InvalidRoundingModeError):
        BillingSettings(rounding="bogus")  # type: ignore[arg-type]


# --- exact sums in the private context -----------------------------------------------------


def test_sums_keep_every_digit_beyond_the_default_28() -> None:
    big = Money("10000000000000000000000000000", USD)  # 1e28
    assert (big + Money("0.01", USD)).amount == Decimal("10000000000000000000000000000.01")
    assert (big - Money("0.01", USD)).amount == Decimal("9999999999999999999999999999.99")


def test_the_ambient_decimal_context_is_never_used() -> None:
    with decimal.localcontext() as ambient:
        ambient.prec = 4
        ambient.rounding = decimal.ROUND_DOWN
        assert (Money("123456.78", USD) + Money("0.01", USD)).amount == Decimal("123456.79")
        assert (Money("123456.78", USD) * 3).amount == Decimal("370370.34")
        assert (Money("100", USD) / 8).amount == Decimal("12.5")
        assert Money("2.25", USD).round(1) == Money("2.3", USD)  # half-up, not ROUND_DOWN


def test_a_sum_that_cannot_be_exact_raises_instead_of_dropping_cents() -> None:
    huge = Money("1" + "0" * 33, USD)  # 34 digits
    with pytest.raises(InvalidAmountError):
        huge + Money("0.01", USD)
    with pytest.raises(InvalidAmountError):
        huge - Money("0.01", USD)


def test_products_and_quotients_raise_only_when_rounding_would_reach_minor_units() -> None:
    assert (Money("1234567890123456789012345678.91", USD) * 3).amount == Decimal(
        "3703703670370370367037037036.73"
    )
    third = Money("10", USD) / 3
    assert isinstance(third, Money) and third.amount == Decimal("3." + "3" * 33)
    with pytest.raises(InvalidAmountError):
        Money("123456789012345678901234567890123", USD) * Decimal("1.25")
    with pytest.raises(InvalidAmountError):
        Money("10", USD) / 0
    with pytest.raises(InvalidAmountError):
        Money("10", USD) / Money("0", USD)
    assert Money("10", USD) / Money("4", USD) == Decimal("2.5")


def test_minor_units_beyond_34_digits_are_refused() -> None:
    with pytest.raises(InvalidAmountError):
        from_minor_units(10**34 + 1, USD)
    with pytest.raises(InvalidAmountError):
        to_minor_units(Money("1" * 35, "JPY"))


@given(
    units=st.integers(min_value=0, max_value=10**34 - 1),
    code=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_round_trip_is_lossless_up_to_34_digits(units: int, code: str) -> None:
    assert to_minor_units(from_minor_units(units, code)) == units


@given(
    left=st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**36), max_value=10**36
    ),
    right=st.decimals(
        allow_nan=False, allow_infinity=False, places=2, min_value=-(10**36), max_value=10**36
    ),
)
def test_a_sum_is_exact_or_an_error_never_silently_wrong(left: Decimal, right: Decimal) -> None:
    wide = decimal.Context(prec=200)
    try:
        total = Money(left, USD) + Money(right, USD)
    except InvalidAmountError:
        assert len(wide.add(left, right).normalize(wide).as_tuple().digits) > 34
        return
    assert total.amount == wide.add(left, right)


# --- operations money has no meaning for ---------------------------------------------------

M = Money("10.00", USD)


@pytest.mark.parametrize(
    "operation",
    [
        lambda: M * Money("2", USD),
        lambda: M + 5,
        lambda: 5 + M,
        lambda: M - 5,
        lambda: 5 - M,
        lambda: M + True,
        lambda: M * True,
        lambda: M * "2",
        lambda: M // 2,
        lambda: 2 // M,
        lambda: M % 2,
        lambda: 5 % M,
        lambda: divmod(M, 2),
        lambda: M**2,
        lambda: 2 / M,
        lambda: M < 5,
        lambda: Decimal(0) <= M,
        lambda: M * Decimal("Infinity"),
    ],
)
def test_meaningless_operations_raise_invalid_amount(operation: Callable[[], object]) -> None:
    with pytest.raises(InvalidAmountError) as raised:
        operation()
    assert not isinstance(raised.value, TypeError | ValueError)


def test_zero_still_starts_a_sum() -> None:
    assert 0 + M == M and M + 0 == M and M - Decimal(0) == M and 0 - M == -M
    assert sum([M, M]) == Money("20.00", USD)


# --- formatting never rounds silently ------------------------------------------------------


def test_format_money_refuses_excess_precision() -> None:
    for amount, code in (("0.125", USD), ("1.5", "JPY"), ("1.2345", "KWD")):
        with pytest.raises(InvalidAmountError):
            format_money(Money(amount, code))


def test_format_money_rounds_only_when_told_how() -> None:
    assert format_money(Money("0.125", USD), rounding=RoundingMode.HALF_UP) == "$0.13"
    assert format_money(Money("0.125", USD), rounding="half_even") == "$0.12"
    assert format_money(Money("-0.125", USD), rounding="half_up") == "-$0.13"
    assert format_money(Money("0.10", USD)) == "$0.10"
    assert format_money(Money("0.1000", USD)) == "$0.10"  # trailing zeros are not precision
