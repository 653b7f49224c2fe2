"""Largest-remainder allocation of whole minor units (re-exported by :mod:`lms_billing.money`,
whose :func:`~lms_billing.money.allocate` splits Money with it)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import moneyed

from lms_billing._decimal import validate_minor_units
from lms_billing.errors import InvalidAllocationError

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


__all__ = ["Weight", "allocate_minor"]
