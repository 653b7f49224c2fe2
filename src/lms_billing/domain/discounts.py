"""Applying coupons to lines: order, clamping and exact allocation.

The rules, in order:

1. Coupons are sorted: by default every percent-off coupon before every amount-off coupon
   (:attr:`DiscountOrder.PERCENT_FIRST`, so "20 % off, then 5 € off" discounts 20 % of the
   full price), then by ``stacking_order``, then by id. ``AMOUNT_FIRST`` flips the kinds.
   More than one coupon requires every one of them to be ``stackable``.
2. Each coupon discounts only its eligible lines (``applies_to`` products/prices,
   ``discountable`` lines with a positive remaining amount), and percentages apply to what
   is left after the coupons before it (they compound, as sequential discounts do).
3. A coupon never takes more than its eligible lines still hold, and all coupons together
   never take more than the invoice's subtotal: totals never go negative.
4. Each coupon's amount is split across its eligible lines by their remaining amounts with
   :func:`~lms_billing.money.allocate_minor` (largest remainder), so line discounts always
   sum exactly to the coupon's amount and the invoice discount.

Discounts apply before tax: tax is computed on ``amount - discount`` afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from lms_billing.domain.coupons import Coupon
from lms_billing.errors import (
    CouponAlreadyAppliedError,
    CouponNotStackableError,
    ValidationError,
)
from lms_billing.money import (
    DECIMAL_CONTEXT,
    DEFAULT_ROUNDING,
    CurrencyCode,
    MinorUnits,
    RoundingMode,
    allocate_minor,
    round_minor,
)


class DiscountOrder(StrEnum):
    """Which kind of coupon applies first when several stack."""

    PERCENT_FIRST = "percent_first"
    AMOUNT_FIRST = "amount_first"


class DiscountableLine(BaseModel):
    """The part of an invoice line discounts care about (amount before discounts)."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    amount: int
    product_id: str | None = None
    price_id: str | None = None
    discountable: bool = True


class DiscountAllocation(BaseModel):
    """One coupon's share of one line."""

    model_config = ConfigDict(frozen=True)

    coupon_id: str
    line_id: str
    amount: MinorUnits


class DiscountResult(BaseModel):
    """Every coupon's allocation; ``per_coupon`` and ``per_line`` both sum to ``total``."""

    model_config = ConfigDict(frozen=True)

    currency: CurrencyCode
    allocations: tuple[DiscountAllocation, ...]
    per_coupon: dict[str, int]
    total: MinorUnits

    def for_line(self, line_id: str) -> tuple[DiscountAllocation, ...]:
        return tuple(a for a in self.allocations if a.line_id == line_id)

    @property
    def per_line(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for allocation in self.allocations:
            totals[allocation.line_id] = totals.get(allocation.line_id, 0) + allocation.amount
        return totals


def order_coupons(
    coupons: Sequence[Coupon], order: DiscountOrder = DiscountOrder.PERCENT_FIRST
) -> list[Coupon]:
    """Sort coupons into application order and check they may stack.

    :raises CouponNotStackableError: two or more coupons and one is not ``stackable``.
    :raises CouponAlreadyAppliedError: the same coupon twice.
    """
    ids = [c.id for c in coupons]
    if len(ids) != len(set(ids)):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        raise CouponAlreadyAppliedError(
            f"Coupon {', '.join(twice)} is applied more than once.", coupons=twice
        )
    if len(coupons) > 1:
        lonely = [c.id for c in coupons if not c.stackable]
        if lonely:
            raise CouponNotStackableError(
                f"Coupons {lonely} cannot be combined with other coupons.", coupons=lonely
            )
    percent_rank = 0 if order is DiscountOrder.PERCENT_FIRST else 1
    return sorted(
        coupons,
        key=lambda c: (percent_rank if c.is_percent else 1 - percent_rank, c.stacking_order, c.id),
    )


def apply_discounts(
    lines: Sequence[DiscountableLine],
    coupons: Sequence[Coupon],
    currency: str,
    *,
    order: DiscountOrder = DiscountOrder.PERCENT_FIRST,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> DiscountResult:
    """Apply ``coupons`` to ``lines`` following the module rules; pure and exact.

    :raises CouponCurrencyMismatchError: an amount-off coupon lacks ``currency``.
    :raises CouponNotStackableError: see :func:`order_coupons`.
    """
    ids = [line.line_id for line in lines]
    if len(ids) != len(set(ids)):
        raise ValidationError("Line ids must be unique.", line_ids=ids)
    ordered = order_coupons(coupons, order)
    # Fixed amounts are resolved up front so a currency mismatch fails before any work.
    fixed = {c.id: c.amount_off_for(currency) for c in ordered if not c.is_percent}
    remaining = {line.line_id: line.amount for line in lines}
    # Rule 3: the whole invoice's discount is capped by its (net) subtotal.
    budget = max(0, sum(line.amount for line in lines))
    allocations: list[DiscountAllocation] = []
    per_coupon: dict[str, int] = {}
    for coupon in ordered:
        eligible = [
            line
            for line in lines
            if line.discountable
            and remaining[line.line_id] > 0
            and coupon.applies_to(product_id=line.product_id, price_id=line.price_id)
        ]
        base = sum(remaining[line.line_id] for line in eligible)
        if coupon.percent_off is not None:
            # Rounding point: a percent discount is rounded once per coupon, on the eligible
            # total, so per-line rounding cannot drift from the headline percentage.
            exact = DECIMAL_CONTEXT.divide(
                DECIMAL_CONTEXT.multiply(Decimal(base), coupon.percent_off), Decimal(100)
            )
            wanted = round_minor(exact, rounding)
        else:
            wanted = fixed[coupon.id]
        amount = max(0, min(wanted, base, budget))
        per_coupon[coupon.id] = amount
        if amount == 0:
            continue
        budget -= amount
        parts = allocate_minor(amount, [remaining[line.line_id] for line in eligible])
        for line, part in zip(eligible, parts, strict=True):
            if part:
                remaining[line.line_id] -= part
                allocations.append(
                    DiscountAllocation(coupon_id=coupon.id, line_id=line.line_id, amount=part)
                )
    return DiscountResult(
        currency=currency,
        allocations=tuple(allocations),
        per_coupon=per_coupon,
        total=sum(per_coupon.values()),
    )


__all__ = [
    "DiscountAllocation",
    "DiscountOrder",
    "DiscountResult",
    "DiscountableLine",
    "apply_discounts",
    "order_coupons",
]
