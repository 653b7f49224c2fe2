"""Money: currencies, minor units, rounding, allocation and formatting.

The rules (see docs/money.md):

* Never a float. :class:`Money` refuses floats, NaN and infinities.
* Storage and the wire use integer *minor units* plus an ISO 4217 code. The number of
  minor-unit digits comes from currency data (JPY 0, USD 2, KWD 3), never a constant.
* Rounding happens only where a function here is called with an explicit
  :class:`RoundingMode`. Conversion to minor units refuses to drop precision silently.
* Splitting an amount uses largest-remainder allocation: the parts always sum to the whole.
* Decimal work uses a private context, never the ambient ``decimal`` context.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Annotated, Any

import moneyed
from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency
from pydantic import BeforeValidator

from lms_billing.errors import (
    CurrencyMismatchError,
    InvalidAllocationError,
    InvalidAmountError,
    UnknownCurrencyError,
    ValidationError,
)

Currency = moneyed.Currency

# 34 significant digits (IEEE 754 decimal128) is far above any amount we handle; traps make
# an overflow or invalid operation an error instead of a silently wrong number.
DECIMAL_CONTEXT = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)

# Codes ISO 4217 reserves for testing and "no currency": never billable.
_NON_BILLABLE = frozenset({"XXX", "XTS"})


class RoundingMode(StrEnum):
    """Named rounding modes. ``HALF_UP`` is the library default; ``HALF_EVEN`` is banker's."""

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    HALF_DOWN = "half_down"
    UP = "up"  # away from zero
    DOWN = "down"  # towards zero (truncation)
    CEILING = "ceiling"
    FLOOR = "floor"

    @property
    def decimal_rounding(self) -> str:
        return _DECIMAL_ROUNDING[self]


_DECIMAL_ROUNDING: dict[RoundingMode, str] = {
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.HALF_DOWN: decimal.ROUND_HALF_DOWN,
    RoundingMode.UP: decimal.ROUND_UP,
    RoundingMode.DOWN: decimal.ROUND_DOWN,
    RoundingMode.CEILING: decimal.ROUND_CEILING,
    RoundingMode.FLOOR: decimal.ROUND_FLOOR,
}

DEFAULT_ROUNDING = RoundingMode.HALF_UP


# --- currencies --------------------------------------------------------------------------


def get_currency(code: str | Currency) -> Currency:
    """The :class:`Currency` for an ISO 4217 code (case-insensitive).

    :raises UnknownCurrencyError: for anything that is not a billable ISO 4217 code.
    """
    if isinstance(code, Currency):
        return code
    if not isinstance(code, str):
        raise UnknownCurrencyError(f"Currency code must be a string, got {type(code).__name__}.")
    normalized = code.strip().upper()
    if normalized in _NON_BILLABLE:
        raise UnknownCurrencyError(f"{normalized} is not a billable currency.", currency=code)
    try:
        return moneyed.get_currency(normalized)
    except moneyed.CurrencyDoesNotExist as exc:
        raise UnknownCurrencyError(
            f"Unknown currency code {code!r}.", currency=code
        ) from exc


_KNOWN_CODES: set[str] = set()  # normalized codes already validated (at most ISO 4217's ~180)


def currency_code(code: str | Currency) -> str:
    """The normalized three-letter code, validated."""
    if type(code) is str and code in _KNOWN_CODES:
        return code  # fast path: every model with a currency validates it on construction
    normalized = str(get_currency(code).code)
    if code == normalized:
        _KNOWN_CODES.add(normalized)
    return normalized


def minor_digits(currency: str | Currency) -> int:
    """Minor-unit digits of a currency from ISO 4217 data: JPY 0, USD 2, KWD 3."""
    sub_unit = int(get_currency(currency).sub_unit)
    digits = len(str(sub_unit)) - 1
    if 10**digits != sub_unit:  # pragma: no cover - guards corrupt currency data
        raise UnknownCurrencyError(f"Currency {currency} has a non-decimal sub unit.")
    return digits


def _exponent(currency: str | Currency) -> Decimal:
    return Decimal(1).scaleb(-minor_digits(currency))


# --- Money -------------------------------------------------------------------------------


def _to_decimal(amount: object) -> Decimal:
    if isinstance(amount, bool | float):
        raise InvalidAmountError(
            f"Amounts must be Decimal, int or str, never {type(amount).__name__}.",
            amount=repr(amount),
        )
    if isinstance(amount, Decimal):
        value = amount
    elif isinstance(amount, int):
        value = Decimal(amount)
    elif isinstance(amount, str):
        try:
            value = Decimal(amount.strip())
        except decimal.InvalidOperation as exc:
            raise InvalidAmountError(f"{amount!r} is not a decimal number.") from exc
    else:
        raise InvalidAmountError(f"Cannot use {type(amount).__name__} as an amount.")
    if not value.is_finite():
        raise InvalidAmountError(f"Amounts must be finite, got {value}.")
    return value


class Money(moneyed.Money):
    """A ``moneyed.Money`` that is strict about floats and currency mismatches.

    Arithmetic between different currencies raises :class:`CurrencyMismatchError`
    (moneyed raises a bare ``TypeError``). Amounts keep full precision until a rounding
    function is called.
    """

    def __init__(self, amount: object = Decimal(0), currency: str | Currency | None = None) -> None:
        if currency is None:
            raise UnknownCurrencyError("Money needs a currency.")
        super().__init__(_to_decimal(amount), get_currency(currency))

    def _check_same_currency(self, other: object) -> None:
        if isinstance(other, moneyed.Money) and other.currency != self.currency:
            raise CurrencyMismatchError(
                f"Cannot combine {self.currency.code} and {other.currency.code}.",
                left=self.currency.code,
                right=other.currency.code,
            )

    def __add__(self, other: object) -> Money:
        self._check_same_currency(other)
        result = super().__add__(other)
        return result

    def __radd__(self, other: object) -> Money:
        return self.__add__(other)

    def __sub__(self, other: Any) -> Money:
        self._check_same_currency(other)
        return super().__sub__(other)

    def __rsub__(self, other: object) -> Money:
        self._check_same_currency(other)
        return super().__rsub__(other)

    def __mul__(self, other: object) -> Money:
        if isinstance(other, float):
            raise InvalidAmountError("Multiplying Money by a float is not allowed.")
        return super().__mul__(other)

    def __rmul__(self, other: object) -> Money:
        return self.__mul__(other)

    def __truediv__(self, other: object) -> Money | Decimal:
        if isinstance(other, float):
            raise InvalidAmountError("Dividing Money by a float is not allowed.")
        self._check_same_currency(other)
        return super().__truediv__(other)

    def __lt__(self, other: object) -> bool:
        self._check_same_currency(other)
        return super().__lt__(other)

    def __le__(self, other: object) -> bool:
        self._check_same_currency(other)
        return super().__le__(other)

    def __gt__(self, other: object) -> bool:
        self._check_same_currency(other)
        return super().__gt__(other)

    def __ge__(self, other: object) -> bool:
        self._check_same_currency(other)
        return super().__ge__(other)

    @property
    def code(self) -> str:
        """The ISO 4217 code of this amount's currency."""
        return str(self.currency.code)


def as_money(value: moneyed.Money) -> Money:
    """Wrap a plain ``moneyed.Money`` (e.g. from user code) as a strict :class:`Money`."""
    if isinstance(value, Money):
        return value
    if isinstance(value, moneyed.Money):
        return Money(value.amount, value.currency)
    raise InvalidAmountError(f"Expected Money, got {type(value).__name__}.")


def zero(currency: str | Currency) -> Money:
    return Money(Decimal(0), currency)


def sum_money(amounts: Iterable[moneyed.Money], currency: str | Currency) -> Money:
    """Sum amounts that must all be in ``currency``; an empty iterable sums to zero."""
    total = zero(currency)
    for amount in amounts:
        total = total + as_money(amount)
    return total


# --- minor units -------------------------------------------------------------------------


def validate_minor_units(value: object, *, allow_negative: bool = False) -> int:
    """Check that ``value`` is a whole number of minor units and return it as ``int``.

    :raises InvalidAmountError: for floats, bools, fractions or (unless allowed) negatives.
    """
    if type(value) is int and (value >= 0 or allow_negative):
        return value  # fast path: a plain int in range is already whole minor units
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise InvalidAmountError(
            f"Minor units must be an integer, got {type(value).__name__}.", value=repr(value)
        )
    number = _to_decimal(value)
    if number != number.to_integral_value():
        raise InvalidAmountError(
            f"Minor units must be whole numbers, got {value}.", value=str(value)
        )
    units = int(number)
    if units < 0 and not allow_negative:
        raise InvalidAmountError(f"Minor units must not be negative, got {units}.", value=units)
    return units


def from_minor_units(
    units: int, currency: str | Currency, *, allow_negative: bool = False
) -> Money:
    """``from_minor_units(1999, "USD") == Money("19.99", "USD")``; JPY has no minor unit."""
    whole = validate_minor_units(units, allow_negative=allow_negative)
    return Money(Decimal(whole).scaleb(-minor_digits(currency), DECIMAL_CONTEXT), currency)


def to_minor_units(money: moneyed.Money, *, rounding: RoundingMode | None = None) -> int:
    """Integer minor units of ``money``.

    Without ``rounding`` the amount must already fit the currency's minor unit exactly;
    an amount like ``USD 0.125`` raises :class:`InvalidAmountError` instead of being
    truncated (moneyed's ``get_amount_in_sub_unit`` truncates). Pass a mode to round here,
    which makes this call a named rounding point.
    """
    amount = as_money(money)
    scaled = amount.amount.scaleb(minor_digits(amount.currency), DECIMAL_CONTEXT)
    integral = scaled.to_integral_value(
        rounding=(rounding or RoundingMode.HALF_EVEN).decimal_rounding, context=DECIMAL_CONTEXT
    )
    if rounding is None and integral != scaled:
        raise InvalidAmountError(
            f"{amount.amount} {amount.code} has more precision than the currency's minor unit; "
            "round it explicitly.",
            amount=str(amount.amount),
            currency=amount.code,
        )
    return int(integral)


def quantize(
    amount: Decimal, currency: str | Currency, rounding: RoundingMode = DEFAULT_ROUNDING
) -> Decimal:
    """Round a Decimal amount (in major units) to the currency's minor unit."""
    return _to_decimal(amount).quantize(
        _exponent(currency), rounding=rounding.decimal_rounding, context=DECIMAL_CONTEXT
    )


def round_money(money: moneyed.Money, rounding: RoundingMode = DEFAULT_ROUNDING) -> Money:
    """Round to the currency's minor unit with an explicit mode (a named rounding point)."""
    amount = as_money(money)
    return Money(quantize(amount.amount, amount.currency, rounding), amount.currency)


def round_minor(value: Decimal | Fraction, rounding: RoundingMode = DEFAULT_ROUNDING) -> int:
    """Round a fractional number of minor units to a whole one (for integer hot paths)."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return int(
        _to_decimal(value).to_integral_value(
            rounding=rounding.decimal_rounding, context=DECIMAL_CONTEXT
        )
    )


# --- allocation --------------------------------------------------------------------------

Weight = int | Decimal | Fraction | moneyed.Money


def _weight_value(weight: Weight) -> Fraction:
    if isinstance(weight, bool | float):
        raise InvalidAllocationError("Allocation weights must be int, Decimal or Money.")
    if isinstance(weight, moneyed.Money):
        weight = weight.amount
    if isinstance(weight, Decimal) and not weight.is_finite():
        raise InvalidAllocationError("Allocation weights must be finite.")
    if not isinstance(weight, int | Decimal | Fraction):
        raise InvalidAllocationError(f"Cannot use {type(weight).__name__} as a weight.")
    value = Fraction(weight)
    if value < 0:
        raise InvalidAllocationError("Allocation weights must not be negative.")
    return value


def allocate_minor(total: int, weights: Sequence[Weight]) -> list[int]:
    """Split ``total`` minor units by ``weights`` with the largest-remainder method.

    Each part gets the floor of its exact share; the units left over go one each to the
    parts with the largest fractional remainders (ties go to the earlier part). The parts
    always sum to ``total``. A negative total is split as its absolute value and negated,
    so credits mirror charges exactly.
    """
    total = validate_minor_units(total, allow_negative=True)
    if not weights:
        raise InvalidAllocationError("Cannot allocate over zero parts.")
    values = [_weight_value(w) for w in weights]
    weight_sum = sum(values, Fraction(0))
    if weight_sum == 0:
        if total == 0:
            return [0] * len(values)
        raise InvalidAllocationError("Allocation weights sum to zero.")
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    shares = [magnitude * v / weight_sum for v in values]
    parts = [int(share) for share in shares]  # floor: shares are non-negative
    leftover = magnitude - sum(parts)
    by_remainder = sorted(
        range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i)
    )
    for index in by_remainder[:leftover]:
        parts[index] += 1
    return [sign * part for part in parts]


def allocate(total: moneyed.Money, weights: Sequence[Weight]) -> list[Money]:
    """Split ``total`` by ``weights`` (ratios, amounts or Money) so the parts sum exactly.

    ``allocate(Money("100", "USD"), [1, 1, 1])`` gives 33.34, 33.33, 33.33.
    Weights given as Money must share the total's currency.
    """
    amount = as_money(total)
    for weight in weights:
        if isinstance(weight, moneyed.Money):
            amount._check_same_currency(weight)
    units = to_minor_units(amount)
    return [
        from_minor_units(part, amount.currency, allow_negative=True)
        for part in allocate_minor(units, weights)
    ]


def allocate_evenly(total: moneyed.Money, parts: int) -> list[Money]:
    """Split ``total`` into ``parts`` near-equal amounts that sum exactly to it."""
    if isinstance(parts, bool) or not isinstance(parts, int) or parts <= 0:
        raise InvalidAllocationError("The number of parts must be a positive integer.")
    return allocate(total, [1] * parts)


# --- formatting --------------------------------------------------------------------------


def format_money(money: moneyed.Money, locale: str = "en_US") -> str:
    """Format for people with the customer's locale via babel (CLDR data).

    ``format_money(Money("1234.5", "EUR"), locale="de_DE") == "1.234,50\xa0€"``.
    Amounts are shown with the currency's digits; pass an already rounded amount.
    """
    amount = as_money(money)
    try:
        parsed = Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise ValidationError(f"Unknown locale {locale!r}.", locale=locale) from exc
    return str(format_currency(amount.amount, amount.code, locale=parsed, currency_digits=True))


# --- pydantic field types ----------------------------------------------------------------

CurrencyCode = Annotated[str, BeforeValidator(currency_code)]
"""A pydantic field holding a validated, upper-case ISO 4217 code."""

MinorUnits = Annotated[int, BeforeValidator(validate_minor_units)]
"""A pydantic field holding a non-negative whole number of minor units."""

SignedMinorUnits = Annotated[
    int, BeforeValidator(lambda v: validate_minor_units(v, allow_negative=True))
]
"""A pydantic field holding a whole number of minor units that may be negative (credits)."""


__all__ = [
    "DECIMAL_CONTEXT",
    "DEFAULT_ROUNDING",
    "Currency",
    "CurrencyCode",
    "MinorUnits",
    "Money",
    "RoundingMode",
    "SignedMinorUnits",
    "allocate",
    "allocate_evenly",
    "allocate_minor",
    "as_money",
    "currency_code",
    "format_money",
    "from_minor_units",
    "get_currency",
    "minor_digits",
    "quantize",
    "round_minor",
    "round_money",
    "sum_money",
    "to_minor_units",
    "validate_minor_units",
    "zero",
]
