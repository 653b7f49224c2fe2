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
from fractions import Fraction
from typing import Annotated, Any, NoReturn

import moneyed
from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency
from pydantic import BeforeValidator

from lms_billing._allocation import Weight, allocate_minor
from lms_billing._decimal import (
    DECIMAL_CONTEXT,
    DEFAULT_ROUNDING,
    EXACT_CONTEXT,
    RoundingMode,
    exact,
    precise,
    rounding_mode,
    validate_minor_units,
)
from lms_billing._decimal import to_decimal as _to_decimal
from lms_billing.errors import (
    CurrencyMismatchError,
    InvalidAllocationError,
    InvalidAmountError,
    UnknownCurrencyError,
    ValidationError,
)

Currency = moneyed.Currency

# Codes ISO 4217 reserves for testing and "no currency": never billable.
_NON_BILLABLE = frozenset({"XXX", "XTS"})


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


class Money(moneyed.Money):
    """A ``moneyed.Money`` that is strict about floats, currencies and precision.

    * Arithmetic or comparison across currencies raises :class:`CurrencyMismatchError`
      (moneyed raises a bare ``TypeError``).
    * Sums and differences are exact, in the private 34-digit context: one that would need
      more digits raises :class:`InvalidAmountError` instead of dropping the smallest ones.
    * Products and quotients keep 34 significant digits (half-even at the 34th); when that
      rounding would reach the currency's minor unit (amounts of about 10^31 and more), they
      raise :class:`InvalidAmountError` too.
    * Operations money has no meaning for (``Money * Money``, ``Money + 5``, ``//``, ``%``,
      ``**``, comparing with a number) raise :class:`InvalidAmountError`; split amounts with
      :func:`allocate` instead of ``//``. ``0 + Money`` is allowed so that ``sum()`` works.

    Amounts keep full precision until a rounding function is called.
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

    def _other_amount(self, other: object, operation: str) -> Decimal | None:
        """The amount of a same-currency Money; ``None`` for the scalar zero ``sum()`` adds."""
        if isinstance(other, moneyed.Money):
            self._check_same_currency(other)
            return other.amount
        if _is_scalar_zero(other):
            return None
        raise _unsupported(operation, self, other)

    def __add__(self, other: object) -> Money:
        amount = self._other_amount(other, "add")
        if amount is None:
            return self
        return Money(exact("add", self.amount, amount), self.currency)

    def __radd__(self, other: object) -> Money:
        return self.__add__(other)

    def __sub__(self, other: Any) -> Money:
        amount = self._other_amount(other, "subtract")
        if amount is None:
            return self
        return Money(exact("subtract", self.amount, amount), self.currency)

    def __rsub__(self, other: object) -> Money:
        amount = self._other_amount(other, "subtract")
        if amount is None:
            return -self
        return Money(exact("subtract", amount, self.amount), self.currency)

    def __mul__(self, other: object) -> Money:
        if isinstance(other, moneyed.Money):
            raise InvalidAmountError(
                "Cannot multiply two amounts; multiply Money by an int or Decimal."
            )
        if isinstance(other, float):
            raise InvalidAmountError("Multiplying Money by a float is not allowed.")
        factor = _scalar(other, "multiply", self)
        return Money(precise("multiply", self.amount, factor, self._digits), self.currency)

    def __rmul__(self, other: object) -> Money:
        return self.__mul__(other)

    def __truediv__(self, other: object) -> Money | Decimal:
        if isinstance(other, float):
            raise InvalidAmountError("Dividing Money by a float is not allowed.")
        if isinstance(other, moneyed.Money):
            self._check_same_currency(other)
            return precise("divide", self.amount, other.amount, None)
        divisor = _scalar(other, "divide", self)
        return Money(precise("divide", self.amount, divisor, self._digits), self.currency)

    def __rtruediv__(self, other: object) -> NoReturn:
        raise _unsupported("divide", other, self)

    def __floordiv__(self, other: object) -> NoReturn:
        raise InvalidAmountError(
            "Money has no floor division; split it with allocate() or allocate_evenly()."
        )

    def __rfloordiv__(self, other: object) -> NoReturn:
        raise _unsupported("floor-divide", other, self)

    def __mod__(self, other: object) -> NoReturn:
        raise InvalidAmountError(
            "Money has no remainder; split it with allocate() or allocate_evenly()."
        )

    def __rmod__(self, other: object) -> NoReturn:
        raise InvalidAmountError(
            "Percentages of Money are products: write money * Decimal('0.05'), not 5 % money."
        )

    def __divmod__(self, other: object) -> NoReturn:
        raise InvalidAmountError(
            "Money has no divmod; split it with allocate() or allocate_evenly()."
        )

    def __pow__(self, other: object) -> NoReturn:
        raise _unsupported("raise to a power", self, other)

    def __lt__(self, other: object) -> bool:
        return self.amount < self._comparable(other)

    def __le__(self, other: object) -> bool:
        return self.amount <= self._comparable(other)

    def __gt__(self, other: object) -> bool:
        return self.amount > self._comparable(other)

    def __ge__(self, other: object) -> bool:
        return self.amount >= self._comparable(other)

    @property
    def _digits(self) -> int:
        return minor_digits(self.currency)

    def _comparable(self, other: object) -> Decimal:
        if not isinstance(other, moneyed.Money):
            raise InvalidAmountError(
                f"Cannot compare Money with {type(other).__name__}; compare with Money "
                "(zero(currency)) or compare .amount.",
            )
        self._check_same_currency(other)
        return other.amount

    def round(
        self, ndigits: int | None = 0, *, rounding: RoundingMode | str = DEFAULT_ROUNDING
    ) -> Money:
        """Round to ``ndigits`` decimal places with an explicit mode (default half-up), in the
        private context (moneyed's ``round`` uses the ambient context's mode)."""
        places = 0 if ndigits is None else ndigits
        if isinstance(places, bool) or not isinstance(places, int):
            raise InvalidAmountError(f"ndigits must be an integer, got {ndigits!r}.")
        mode = rounding_mode(rounding)
        try:
            rounded = self.amount.quantize(
                Decimal(1).scaleb(-places),
                rounding=mode.decimal_rounding,
                context=DECIMAL_CONTEXT,
            )
        except decimal.DecimalException as exc:
            raise InvalidAmountError(f"Cannot round {self.amount} to {places} places.") from exc
        return Money(rounded, self.currency)

    @property
    def code(self) -> str:
        """The ISO 4217 code of this amount's currency."""
        return str(self.currency.code)


def _is_scalar_zero(value: object) -> bool:
    return (type(value) is int or isinstance(value, Decimal)) and value == 0


def _scalar(value: object, operation: str, money: Money) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _unsupported(operation, money, value)
    number = Decimal(value)
    if not number.is_finite():
        raise InvalidAmountError(f"Cannot {operation} an amount by {number}.")
    return number


def _unsupported(operation: str, left: object, right: object) -> InvalidAmountError:
    return InvalidAmountError(
        f"Cannot {operation} {type(left).__name__} and {type(right).__name__}.",
        left=type(left).__name__,
        right=type(right).__name__,
    )


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


def from_minor_units(
    units: int, currency: str | Currency, *, allow_negative: bool = False
) -> Money:
    """``from_minor_units(1999, "USD") == Money("19.99", "USD")``; JPY has no minor unit."""
    whole = validate_minor_units(units, allow_negative=allow_negative)
    try:
        amount = Decimal(whole).scaleb(-minor_digits(currency), EXACT_CONTEXT)
    except decimal.Inexact as exc:
        raise InvalidAmountError(
            f"{whole} minor units have more than {EXACT_CONTEXT.prec} digits.", value=str(whole)
        ) from exc
    return Money(amount, currency)


def to_minor_units(
    money: moneyed.Money, *, rounding: RoundingMode | str | None = None
) -> int:
    """Integer minor units of ``money``.

    Without ``rounding`` the amount must already fit the currency's minor unit exactly;
    an amount like ``USD 0.125`` raises :class:`InvalidAmountError` instead of being
    truncated (moneyed's ``get_amount_in_sub_unit`` truncates). Pass a mode to round here,
    which makes this call a named rounding point.
    """
    amount = as_money(money)
    mode = None if rounding is None else rounding_mode(rounding)
    try:
        scaled = amount.amount.scaleb(minor_digits(amount.currency), EXACT_CONTEXT)
    except decimal.Inexact as exc:
        raise InvalidAmountError(
            f"{amount.amount} {amount.code} has more than {EXACT_CONTEXT.prec} digits.",
            amount=str(amount.amount),
        ) from exc
    integral = scaled.to_integral_value(
        rounding=(mode or RoundingMode.HALF_EVEN).decimal_rounding, context=DECIMAL_CONTEXT
    )
    if mode is None and integral != scaled:
        raise InvalidAmountError(
            f"{amount.amount} {amount.code} has more precision than the currency's minor unit; "
            "round it explicitly.",
            amount=str(amount.amount),
            currency=amount.code,
        )
    return int(integral)


def quantize(
    amount: Decimal, currency: str | Currency, rounding: RoundingMode | str = DEFAULT_ROUNDING
) -> Decimal:
    """Round a Decimal amount (in major units) to the currency's minor unit."""
    mode = rounding_mode(rounding)
    try:
        return _to_decimal(amount).quantize(
            _exponent(currency), rounding=mode.decimal_rounding, context=DECIMAL_CONTEXT
        )
    except decimal.InvalidOperation as exc:  # the result needs more than 34 digits
        raise InvalidAmountError(
            f"{amount} cannot be rounded to minor units in {DECIMAL_CONTEXT.prec} digits.",
            amount=str(amount),
        ) from exc


def round_money(money: moneyed.Money, rounding: RoundingMode | str = DEFAULT_ROUNDING) -> Money:
    """Round to the currency's minor unit with an explicit mode (a named rounding point)."""
    amount = as_money(money)
    return Money(quantize(amount.amount, amount.currency, rounding), amount.currency)


def round_minor(
    value: Decimal | Fraction, rounding: RoundingMode | str = DEFAULT_ROUNDING
) -> int:
    """Round a fractional number of minor units to a whole one (for integer hot paths)."""
    rounding = rounding_mode(rounding)
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return int(
        _to_decimal(value).to_integral_value(
            rounding=rounding.decimal_rounding, context=DECIMAL_CONTEXT
        )
    )


# --- allocation --------------------------------------------------------------------------

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


def format_money(
    money: moneyed.Money, locale: str = "en_US", *, rounding: RoundingMode | str | None = None
) -> str:
    """Format for people with the customer's locale via babel (CLDR data).

    ``format_money(Money("1234.5", "EUR"), locale="de_DE") == "1.234,50\xa0€"``.
    Amounts are shown with the currency's minor-unit digits. An amount with more precision
    (``USD 0.125``) raises :class:`InvalidAmountError` rather than being rounded silently;
    pass ``rounding=`` to round it here, with that mode (a named rounding point).
    """
    amount = as_money(money)
    if rounding is not None:
        amount = round_money(amount, rounding)
    elif amount.amount != quantize(amount.amount, amount.currency, RoundingMode.DOWN):
        raise InvalidAmountError(
            f"{amount.amount} {amount.code} has more precision than the currency's minor unit; "
            "round it first or pass format_money(..., rounding=RoundingMode.HALF_UP).",
            amount=str(amount.amount),
            currency=amount.code,
        )
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
    "rounding_mode",
    "sum_money",
    "to_minor_units",
    "validate_minor_units",
    "zero",
]
