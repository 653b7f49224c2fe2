"""Money core: currencies, minor units, rounding, allocation, formatting."""

from __future__ import annotations

from decimal import Decimal

import moneyed
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms_billing.errors import (
    CurrencyMismatchError,
    InvalidAllocationError,
    InvalidAmountError,
    UnknownCurrencyError,
    ValidationError,
)
from lms_billing.money import (
    Money,
    RoundingMode,
    allocate,
    allocate_evenly,
    allocate_minor,
    format_money,
    from_minor_units,
    minor_digits,
    round_money,
    sum_money,
    to_minor_units,
)

CURRENCIES = ["USD", "EUR", "JPY", "KWD", "GBP", "BRL", "BHD", "CLP"]


@pytest.mark.parametrize(
    ("code", "digits"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("BHD", 3), ("CLP", 0)]
)
def test_minor_digits_come_from_iso_4217_data(code: str, digits: int) -> None:
    assert minor_digits(code) == digits


def test_currency_codes_are_case_insensitive() -> None:
    assert Money("1", "usd").code == "USD"


@pytest.mark.parametrize("code", ["ZZZ", "", "US", "XXX", "XTS"])
def test_unknown_or_non_billable_currency_is_rejected(code: str) -> None:
    with pytest.raises(UnknownCurrencyError):
        Money("1", code)


def test_minor_unit_conversion_per_currency() -> None:
    assert to_minor_units(Money("19.99", "USD")) == 1999
    assert to_minor_units(Money("1999", "JPY")) == 1999
    assert to_minor_units(Money("1.999", "KWD")) == 1999
    assert from_minor_units(1999, "USD") == Money("19.99", "USD")
    assert from_minor_units(1999, "JPY") == Money("1999", "JPY")
    assert from_minor_units(1999, "KWD") == Money("1.999", "KWD")


@pytest.mark.parametrize("bad", [-1, 1.5, Decimal("10.5"), "1.2", True, None, 10.0])
def test_bad_minor_units_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidAmountError):
        from_minor_units(bad, "USD")  # type: ignore[arg-type]


def test_negative_minor_units_allowed_only_when_asked() -> None:
    assert from_minor_units(-250, "USD", allow_negative=True) == Money("-2.50", "USD")


def test_sub_minor_precision_is_never_truncated_silently() -> None:
    with pytest.raises(InvalidAmountError):
        to_minor_units(Money("0.125", "USD"))
    assert to_minor_units(Money("0.125", "USD"), rounding=RoundingMode.HALF_UP) == 13
    assert to_minor_units(Money("0.125", "USD"), rounding=RoundingMode.HALF_EVEN) == 12
    assert to_minor_units(Money("0.5", "JPY"), rounding=RoundingMode.HALF_UP) == 1


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (RoundingMode.HALF_UP, "2.68"),
        (RoundingMode.HALF_EVEN, "2.68"),
        (RoundingMode.DOWN, "2.67"),
        (RoundingMode.UP, "2.68"),
        (RoundingMode.FLOOR, "2.67"),
        (RoundingMode.CEILING, "2.68"),
    ],
)
def test_named_rounding_modes(mode: RoundingMode, expected: str) -> None:
    assert round_money(Money("2.675", "USD"), mode) == Money(expected, "USD")


def test_half_even_differs_from_half_up_on_ties() -> None:
    assert round_money(Money("2.665", "USD"), RoundingMode.HALF_UP) == Money("2.67", "USD")
    assert round_money(Money("2.665", "USD"), RoundingMode.HALF_EVEN) == Money("2.66", "USD")
    assert round_money(Money("-2.665", "USD"), RoundingMode.HALF_UP) == Money("-2.67", "USD")


def test_floats_are_refused_everywhere() -> None:
    with pytest.raises(InvalidAmountError):
        Money(0.1, "USD")
    with pytest.raises(InvalidAmountError):
        Money("1", "USD") * 0.5
    with pytest.raises(InvalidAmountError):
        Money("NaN", "USD")
    with pytest.raises(InvalidAmountError):
        Money("abc", "USD")


def test_arithmetic_across_currencies_raises_typed_error() -> None:
    usd, eur = Money("1", "USD"), Money("1", "EUR")
    for operation in (
        lambda: usd + eur,
        lambda: usd - eur,
        lambda: usd < eur,
        lambda: usd >= eur,
        lambda: usd / eur,
    ):
        with pytest.raises(CurrencyMismatchError):
            operation()


def test_plain_moneyed_values_are_checked_too() -> None:
    with pytest.raises(CurrencyMismatchError):
        Money("1", "USD") + moneyed.Money("1", "EUR")
    assert sum_money([moneyed.Money("1.10", "USD"), Money("2", "USD")], "USD") == Money(
        "3.10", "USD"
    )
    with pytest.raises(CurrencyMismatchError):
        sum_money([Money("1", "EUR")], "USD")


def test_sum_of_money_works_like_decimal() -> None:
    assert sum([Money("1.10", "USD"), Money("2.20", "USD")]) == Money("3.30", "USD")
    assert sum_money([], "EUR") == Money("0", "EUR")


def test_allocation_example_and_negative_mirror() -> None:
    assert allocate(Money("100", "USD"), [1, 1, 1]) == [
        Money("33.34", "USD"),
        Money("33.33", "USD"),
        Money("33.33", "USD"),
    ]
    assert allocate(Money("-100", "USD"), [1, 1, 1]) == [
        Money("-33.34", "USD"),
        Money("-33.33", "USD"),
        Money("-33.33", "USD"),
    ]
    assert allocate(Money("10", "JPY"), [Decimal("0.7"), Decimal("0.3")]) == [
        Money("7", "JPY"),
        Money("3", "JPY"),
    ]
    assert allocate_evenly(Money("0.10", "USD"), 3) == [
        Money("0.04", "USD"),
        Money("0.03", "USD"),
        Money("0.03", "USD"),
    ]


def test_allocation_by_money_weights_requires_same_currency() -> None:
    parts = allocate(Money("10.00", "EUR"), [Money("30", "EUR"), Money("10", "EUR")])
    assert parts == [Money("7.50", "EUR"), Money("2.50", "EUR")]
    with pytest.raises(CurrencyMismatchError):
        allocate(Money("10.00", "EUR"), [Money("1", "USD")])


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1], [0.5, 0.5]])
def test_bad_allocation_weights(weights: list[object]) -> None:
    with pytest.raises(InvalidAllocationError):
        allocate_minor(100, weights)  # type: ignore[arg-type]


def test_zero_over_zero_weights_is_all_zero() -> None:
    assert allocate_minor(0, [0, 0]) == [0, 0]


def test_allocation_of_sub_minor_amount_requires_rounding_first() -> None:
    with pytest.raises(InvalidAmountError):
        allocate(Money("0.005", "USD"), [1, 1])


@pytest.mark.parametrize(
    ("money", "locale", "expected"),
    [
        (Money("1234.5", "EUR"), "de_DE", "1.234,50\xa0€"),
        (Money("1234.5", "USD"), "en_US", "$1,234.50"),
        (Money("1234", "JPY"), "ja_JP", "￥1,234"),
        (Money("1234.5", "EUR"), "fr_FR", "1\u202f234,50\xa0€"),
        (Money("1234.5", "BRL"), "pt_BR", "R$\xa01.234,50"),
        (Money("1.234", "KWD"), "en_US", "KWD1.234"),
    ],
)
def test_locale_aware_formatting(money: Money, locale: str, expected: str) -> None:
    assert format_money(money, locale=locale) == expected


def test_unknown_locale_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        format_money(Money("1", "USD"), locale="xx_YY_ZZ")


# --- properties ----------------------------------------------------------------------------

weights_strategy = st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12)


@given(
    total=st.integers(min_value=-(10**12), max_value=10**12),
    weights=weights_strategy.filter(lambda ws: sum(ws) > 0),
)
def test_allocation_always_sums_to_the_whole(total: int, weights: list[int]) -> None:
    parts = allocate_minor(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    # Each part is within one minor unit of its exact share.
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        exact = total * weight / weight_sum
        assert abs(part - exact) < 1
    # Zero weights get nothing.
    assert all(p == 0 for p, w in zip(parts, weights, strict=True) if w == 0)


@given(
    total=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(
        st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False), min_size=1
    ).filter(lambda ws: sum(ws) > 0),
)
def test_decimal_ratio_allocation_sums_exactly(total: int, weights: list[Decimal]) -> None:
    assert sum(allocate_minor(total, weights)) == total


@given(
    units=st.integers(min_value=0, max_value=10**15),
    code=st.sampled_from(CURRENCIES),
)
def test_minor_units_round_trip_is_lossless(units: int, code: str) -> None:
    money = from_minor_units(units, code)
    assert to_minor_units(money) == units
    assert from_minor_units(to_minor_units(money), code) == money


@given(
    amount=st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False),
    code=st.sampled_from(CURRENCIES),
    mode=st.sampled_from(list(RoundingMode)),
)
def test_rounded_money_always_fits_minor_units(
    amount: Decimal, code: str, mode: RoundingMode
) -> None:
    rounded = round_money(Money(amount, code), mode)
    units = to_minor_units(rounded)
    assert from_minor_units(units, code, allow_negative=True) == rounded
    assert abs(rounded.amount - amount) < Decimal(1).scaleb(-minor_digits(code))
