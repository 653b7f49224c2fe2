"""The private Decimal context, named rounding modes, exact arithmetic for Money, and the
checks that turn user input into Decimals and whole minor units.

Nothing here reads or changes the ambient ``decimal`` context a host application may have
configured. Public names are re-exported by :mod:`lms_billing.money`.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from lms_billing.errors import InvalidAmountError, InvalidRoundingModeError

# 34 significant digits (IEEE 754 decimal128) is far above any amount we handle; traps make
# an overflow or invalid operation an error instead of a silently wrong number.
DECIMAL_CONTEXT = decimal.Context(
    prec=34,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)

# The same 34 digits with Inexact trapped: an operation that cannot be exact raises instead
# of dropping digits (the default 28-digit context silently turns 1e28 + 0.01 into 1e28).
EXACT_CONTEXT = decimal.Context(
    prec=DECIMAL_CONTEXT.prec,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero, decimal.Inexact],
)


class RoundingMode(StrEnum):
    """Named rounding modes. ``HALF_UP`` is the library default; ``HALF_EVEN`` is banker's.

    Every function taking a mode also accepts its name (``"half_even"``, case-insensitive,
    ``-`` or ``_``); ``RoundingMode("bogus")`` raises :class:`InvalidRoundingModeError`.
    """

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

    @classmethod
    def _missing_(cls, value: object) -> RoundingMode:
        # Enum calls this when ``value`` is not a member's value; a non-ValueError raised here
        # reaches the caller as it is (pydantic passes it through too).
        if isinstance(value, str):
            wanted = value.strip().lower().replace("-", "_")
            for member in cls:
                if member.value == wanted:
                    return member
        raise InvalidRoundingModeError(
            f"Unknown rounding mode {value!r}; use one of {[m.value for m in cls]}.",
            rounding=repr(value),
        )


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


def rounding_mode(value: RoundingMode | str) -> RoundingMode:
    """``value`` as a :class:`RoundingMode`; names such as ``"half_even"`` are accepted.

    :raises InvalidRoundingModeError: for anything else (``None``, ``"bogus"``, numbers).
    """
    if type(value) is RoundingMode:
        return value
    if isinstance(value, str):
        return RoundingMode(value)
    raise InvalidRoundingModeError(
        f"A rounding mode must be a RoundingMode or its name, got {type(value).__name__}.",
        rounding=repr(value),
    )


def to_decimal(amount: object) -> Decimal:
    """``amount`` (Decimal, int or str) as a finite Decimal; floats and bools are refused."""
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
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise InvalidAmountError(
            f"Minor units must be whole numbers, got {value}.", value=str(value)
        )
    units = int(number)
    if units < 0 and not allow_negative:
        raise InvalidAmountError(f"Minor units must not be negative, got {units}.", value=units)
    return units


def exact(operation: Literal["add", "subtract"], left: Decimal, right: Decimal) -> Decimal:
    """``left + right`` or ``left - right``, exactly, or :class:`InvalidAmountError`."""
    try:
        result: Decimal = getattr(EXACT_CONTEXT, operation)(left, right)
    except decimal.Inexact as exc:
        raise InvalidAmountError(
            f"Cannot {operation} {left} and {right} exactly in {EXACT_CONTEXT.prec} "
            "significant digits.",
            left=str(left),
            right=str(right),
        ) from exc
    except decimal.DecimalException as exc:
        raise InvalidAmountError(f"Cannot {operation} {left} and {right}.") from exc
    return result


def precise(
    operation: Literal["multiply", "divide"],
    left: Decimal,
    right: Decimal,
    minor_digits: int | None,
) -> Decimal:
    """A product or quotient: exact when it fits 34 significant digits, else rounded
    half-even at the 34th, unless that rounding reaches the minor unit (``10**-minor_digits``;
    ``None`` for a plain ratio), which raises :class:`InvalidAmountError`."""
    try:
        result: Decimal = getattr(EXACT_CONTEXT, operation)(left, right)
        return result
    except decimal.Inexact:
        pass  # computed again below, rounded
    except (decimal.DivisionByZero, decimal.InvalidOperation) as exc:
        raise InvalidAmountError(f"Cannot {operation} {left} by {right}.") from exc
    except decimal.DecimalException as exc:
        raise InvalidAmountError(f"Cannot {operation} {left} by {right}.") from exc
    rounded: Decimal = getattr(DECIMAL_CONTEXT.copy(), operation)(left, right)
    exponent = rounded.as_tuple().exponent
    if minor_digits is not None and isinstance(exponent, int) and exponent > -minor_digits:
        raise InvalidAmountError(
            f"{left} is too large to {operation} without losing minor units in "
            f"{DECIMAL_CONTEXT.prec} significant digits.",
            amount=str(left),
        )
    return rounded


__all__ = [
    "DECIMAL_CONTEXT",
    "DEFAULT_ROUNDING",
    "EXACT_CONTEXT",
    "RoundingMode",
    "exact",
    "precise",
    "rounding_mode",
    "to_decimal",
    "validate_minor_units",
]
