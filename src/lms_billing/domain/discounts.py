"""Applying coupons to lines: order, clamping and exact allocation.

The rules, in order:

1. Coupons are sorted: by default every percent-off coupon before every amount-off coupon
   (:attr:`DiscountOrder.PERCENT_FIRST`, so "20 % off, then 5 € off" discounts 20 % of the
   full price), then by ``stacking_order``, then by id. ``AMOUNT_FIRST`` flips the kinds.
   More than one coupon requires every one of them to be ``stackable``.
2. Each coupon discounts only its eligible lines (``applies_to`` products/prices,
   ``discountable`` lines with something left), and percentages apply to what is left after
   the coupons before it (they compound, as sequential discounts do).
3. **Percent-off coupons discount credit lines too** (negative amounts: proration credits for
   unused time), as Stripe does: the customer paid that time at the discounted price, so the
   credit for it is discounted the same way. A credit line's discount is negative (it makes
   the credit smaller) and never larger than the credit. The coupon's discount is rounded
   once, on the signed total of its eligible lines (so a charge and an equal credit cancel
   exactly, whatever the percentage), and split into a part on the charges and a part on the
   credits (the credits' part rounded once on their total, the charges take the rest).
4. **Amount-off coupons discount charges only**, and never more than the net of their
   eligible lines (charges minus credits) still holds, nor more than the whole invoice's
   remaining net amount: a fixed discount never turns a non-negative total negative (and
   does nothing to an invoice that is a net credit).
5. Each coupon's part is split across its lines by their remaining amounts with
   :func:`~lms_billing.money.allocate_minor` (largest remainder), so line discounts always
   sum exactly to the coupon's amount and the invoice discount (charges and credits
   separately, so every line's discount has the sign of its amount).

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
    RoundingMode,
    SignedMinorUnits,
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
    """One coupon's share of one line: negative on a credit line (the credit shrinks)."""

    model_config = ConfigDict(frozen=True)

    coupon_id: str
    line_id: str
    amount: SignedMinorUnits


class DiscountResult(BaseModel):
    """Every coupon's allocation; ``per_coupon`` and ``per_line`` both sum to ``total``
    (negative when the coupons took more off credit lines than off charges)."""

    model_config = ConfigDict(frozen=True)

    currency: CurrencyCode
    allocations: tuple[DiscountAllocation, ...]
    per_coupon: dict[str, int]
    total: SignedMinorUnits

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


def _percent_of(amount: int, percent: Decimal, rounding: RoundingMode) -> int:
    # Rounding point: once per coupon (and once for its credit lines), never per line.
    exact = DECIMAL_CONTEXT.divide(DECIMAL_CONTEXT.multiply(Decimal(amount), percent), Decimal(100))
    return round_minor(exact, rounding)


def _split_percent(
    charges: int, credits: int, percent: Decimal, rounding: RoundingMode
) -> tuple[int, int]:
    """A percent coupon's discount on ``charges`` (>= 0) and on ``credits`` (the credits'
    magnitude, >= 0), with their difference rounded once on the signed net."""
    net = _percent_of(charges - credits, percent, rounding)
    on_credits = min(max(_percent_of(credits, percent, rounding), 0), credits)
    on_charges = min(max(net + on_credits, 0), charges)
    # Only the clamps can move the net, and only at the edges (100 %, a side at zero).
    on_credits = min(max(on_charges - net, 0), credits)
    return on_charges, on_credits


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
    :raises CouponNotStackableError, CouponAlreadyAppliedError: see :func:`order_coupons`.
    """
    ids = [line.line_id for line in lines]
    if len(ids) != len(set(ids)):
        raise ValidationError("Line ids must be unique.", line_ids=ids)
    if not coupons:  # nothing to allocate (most renewals)
        return DiscountResult(currency=currency, allocations=(), per_coupon={}, total=0)
    ordered = order_coupons(coupons, order)
    # Fixed amounts are resolved up front so a currency mismatch fails before any work.
    fixed = {c.id: c.amount_off_for(currency) for c in ordered if not c.is_percent}
    remaining = {line.line_id: line.amount for line in lines}
    allocations: list[DiscountAllocation] = []
    per_coupon: dict[str, int] = {}
    for coupon in ordered:
        eligible = [
            line
            for line in lines
            if line.discountable
            and remaining[line.line_id] != 0
            and coupon.applies_to(product_id=line.product_id, price_id=line.price_id)
        ]
        charges = [line for line in eligible if remaining[line.line_id] > 0]
        credits = [line for line in eligible if remaining[line.line_id] < 0]
        charged = sum(remaining[line.line_id] for line in charges)
        credited = -sum(remaining[line.line_id] for line in credits)
        if coupon.percent_off is not None:
            on_charges, on_credits = _split_percent(charged, credited, coupon.percent_off, rounding)
        else:
            # Rule 4: the net of its eligible lines and the whole invoice's remaining net
            # amount cap a fixed discount (a charge and an equal credit change neither).
            budget = max(0, sum(remaining.values()))
            on_charges = max(0, min(fixed[coupon.id], charged - credited, budget))
            on_credits = 0
        per_coupon[coupon.id] = on_charges - on_credits
        for group, amount in ((charges, on_charges), (credits, -on_credits)):
            if amount == 0:
                continue
            weights = [abs(remaining[line.line_id]) for line in group]
            for line, part in zip(group, allocate_minor(amount, weights), strict=True):
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
