"""Coupons and promotion codes: what a discount is, and whether it may be redeemed now.

A :class:`Coupon` is the rule (``percent_off`` *or* ``amount_off`` per currency, duration,
limits, restrictions). A :class:`PromotionCode` is a customer-facing code such as
``SPRING24`` that points at a coupon and adds its own limits. :func:`check_redeemable` is the
single pure gate: it raises a specific error for the first rule an order breaks and returns
nothing when redemption may go ahead. Counting redemptions atomically is the storage layer's
job (a conditional ``UPDATE ... WHERE times_redeemed < max_redemptions``); :func:`redeem`
returns the counted copies for it to save.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from lms_billing.clock import ensure_aware
from lms_billing.errors import (
    CouponCurrencyMismatchError,
    CouponExhaustedError,
    CouponExpiredError,
    CouponNotApplicableError,
    InvalidCouponError,
    MinimumAmountNotMetError,
)
from lms_billing.money import CurrencyCode, MinorUnits, currency_code, validate_minor_units


def _per_currency(value: object) -> dict[str, int]:
    """Validate ``{"usd": 500}`` into ``{"USD": 500}`` (positive minor units per currency)."""
    if not isinstance(value, Mapping):
        raise InvalidCouponError("Per-currency amounts must be a mapping of currency -> minor.")
    result: dict[str, int] = {}
    for key, amount in value.items():
        code = currency_code(key)
        units = validate_minor_units(amount)
        if units <= 0:
            raise InvalidCouponError(f"The {code} amount must be positive.", currency=code)
        result[code] = units
    return result


PerCurrencyAmounts = Annotated[dict[str, int], BeforeValidator(_per_currency)]


def _percent(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool | float):
        raise InvalidCouponError("percent_off must be a Decimal, int or str, never a float.")
    try:
        percent = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except ArithmeticError as exc:
        raise InvalidCouponError(f"percent_off {value!r} is not a number.") from exc
    if not percent.is_finite() or not Decimal(0) < percent <= Decimal(100):
        raise InvalidCouponError(f"percent_off must be > 0 and <= 100, got {value}.")
    return percent


Percent = Annotated[Decimal | None, BeforeValidator(_percent)]


def _whole(value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidCouponError(f"Expected a whole number >= {minimum}, got {value!r}.")
    return value


Limit = Annotated[int | None, BeforeValidator(lambda v: None if v is None else _whole(v, 1))]
"""A redemption limit: ``None`` (unlimited) or a whole number >= 1."""
Count = Annotated[int, BeforeValidator(lambda v: _whole(v, 0))]


class CouponDuration(StrEnum):
    """How long a coupon keeps discounting a subscription (Stripe's ``duration``)."""

    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


class Coupon(BaseModel):
    """A discount rule. Exactly one of ``percent_off`` and ``amount_off`` is set.

    ``amount_off`` maps currency to minor units (``{"USD": 500, "EUR": 450}``); an order in a
    currency not listed cannot use the coupon. ``stacking_order`` sorts coupons of the same
    kind when several apply (lower first); see :mod:`lms_billing.domain.discounts`.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    name: str | None = None
    percent_off: Percent = None
    amount_off: PerCurrencyAmounts = Field(default_factory=dict)
    duration: CouponDuration = CouponDuration.ONCE
    duration_in_months: int | None = None
    redeem_by: datetime | None = None
    max_redemptions: Limit = None
    times_redeemed: Count = 0
    max_redemptions_per_customer: Limit = None
    first_time_transaction: bool = False
    minimum_amount: PerCurrencyAmounts = Field(default_factory=dict)
    applies_to_product_ids: tuple[str, ...] = ()
    applies_to_price_ids: tuple[str, ...] = ()
    stackable: bool = True
    stacking_order: int = 0
    valid: bool = True
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("redeem_by")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else ensure_aware(value, name="redeem_by")

    @model_validator(mode="after")
    def _check(self) -> Coupon:
        if (self.percent_off is None) == (not self.amount_off):
            raise InvalidCouponError(
                "A coupon needs exactly one of percent_off and amount_off.", coupon=self.id
            )
        if self.duration is CouponDuration.REPEATING:
            if self.duration_in_months is None or self.duration_in_months < 1:
                raise InvalidCouponError(
                    "A repeating coupon needs duration_in_months >= 1.", coupon=self.id
                )
        elif self.duration_in_months is not None:
            raise InvalidCouponError(
                "duration_in_months is only for repeating coupons.", coupon=self.id
            )
        return self

    @property
    def is_percent(self) -> bool:
        return self.percent_off is not None

    def amount_off_for(self, currency: str) -> int:
        """The fixed discount in ``currency`` minor units.

        :raises CouponCurrencyMismatchError: when the coupon has no amount in that currency.
        """
        code = currency_code(currency)
        if code not in self.amount_off:
            raise CouponCurrencyMismatchError(
                f"Coupon {self.id} has no amount_off in {code}.",
                coupon=self.id,
                currency=code,
                available=sorted(self.amount_off),
            )
        return self.amount_off[code]

    @property
    def restricted(self) -> bool:
        return bool(self.applies_to_product_ids or self.applies_to_price_ids)

    def applies_to(self, *, product_id: str | None, price_id: str | None) -> bool:
        """True when a line for this product/price is eligible for the coupon."""
        if not self.restricted:
            return True
        return (product_id is not None and product_id in self.applies_to_product_ids) or (
            price_id is not None and price_id in self.applies_to_price_ids
        )


_CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,63}$")


def normalize_code(code: object) -> str:
    """Customer-facing codes compare case-insensitively: ``" spring24 "`` -> ``"SPRING24"``.

    :raises InvalidCouponError: for codes outside ``[A-Z0-9_-]``, 2-64 characters.
    """
    if not isinstance(code, str):
        raise InvalidCouponError("A promotion code must be a string.")
    normalized = code.strip().upper()
    if not _CODE_PATTERN.match(normalized):
        raise InvalidCouponError("Promotion codes are 2-64 letters, digits, '-' or '_'.", code=code)
    return normalized


PromotionCodeText = Annotated[str, BeforeValidator(normalize_code)]


class PromotionRestrictions(BaseModel):
    """Extra conditions a promotion code adds on top of its coupon's."""

    model_config = ConfigDict(frozen=True)

    first_time_transaction: bool = False
    minimum_amount: PerCurrencyAmounts = Field(default_factory=dict)
    customer_id: str | None = None


class PromotionCode(BaseModel):
    """A customer-facing code for a coupon; ``code`` is stored upper-case."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    code: PromotionCodeText
    coupon_id: str = Field(min_length=1)
    active: bool = True
    max_redemptions: Limit = None
    times_redeemed: Count = 0
    expires_at: datetime | None = None
    restrictions: PromotionRestrictions = Field(default_factory=PromotionRestrictions)
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else ensure_aware(value, name="expires_at")

    def matches(self, text: str) -> bool:
        """Case-insensitive comparison with what a customer typed."""
        try:
            return normalize_code(text) == self.code
        except InvalidCouponError:
            return False


class CustomerRedemptionStats(BaseModel):
    """What storage knows about this customer, for per-customer and first-purchase rules."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    coupon_redemptions: Count = Field(default=0, description="Times this coupon was used.")
    has_prior_transactions: bool = Field(
        default=False, description="True once the customer has a paid invoice or payment."
    )


class OrderLine(BaseModel):
    """One line of the order being discounted (pre-discount amount in minor units)."""

    model_config = ConfigDict(frozen=True)

    amount: int
    product_id: str | None = None
    price_id: str | None = None


class OrderSummary(BaseModel):
    """The order a coupon is checked against; ``subtotal`` is before any discount."""

    model_config = ConfigDict(frozen=True)

    currency: CurrencyCode
    subtotal: MinorUnits
    lines: tuple[OrderLine, ...] = ()


def _check_minimum(minimums: dict[str, int], order: OrderSummary, owner: str) -> None:
    if not minimums:
        return
    if order.currency not in minimums:
        raise CouponCurrencyMismatchError(
            f"{owner} has no minimum amount in {order.currency}.",
            currency=order.currency,
            available=sorted(minimums),
        )
    minimum = minimums[order.currency]
    if order.subtotal < minimum:
        raise MinimumAmountNotMetError(
            f"{owner} needs an order of at least {minimum} minor units of {order.currency}.",
            minimum=minimum,
            subtotal=order.subtotal,
            currency=order.currency,
        )


def check_redeemable(
    coupon: Coupon,
    code: PromotionCode | None,
    customer_stats: CustomerRedemptionStats,
    order: OrderSummary,
    now: datetime,
) -> None:
    """Raise the specific error for the first rule this redemption breaks; else return.

    Checked in this order: code belongs to coupon and is active, expiry (``redeem_by``,
    ``expires_at``), global limits (coupon then code), per-customer limit, customer
    restriction, first-purchase rule, currency (amount-off and minimums), minimum amount,
    product/price restrictions (at least one eligible line).

    :raises CouponNotApplicableError: inactive, wrong customer, not a first purchase, or
        no eligible line.
    :raises CouponExpiredError: after ``redeem_by`` or the code's ``expires_at``.
    :raises CouponExhaustedError: ``max_redemptions`` reached (coupon, code or customer).
    :raises CouponCurrencyMismatchError: no amount/minimum in the order's currency.
    :raises MinimumAmountNotMetError: subtotal below a minimum amount.
    """
    moment = ensure_aware(now, name="now")
    if code is not None and code.coupon_id != coupon.id:
        raise CouponNotApplicableError(
            f"Promotion code {code.code} is not for coupon {coupon.id}.", code=code.code
        )
    if not coupon.valid:
        raise CouponNotApplicableError(f"Coupon {coupon.id} is no longer valid.", reason="invalid")
    if code is not None and not code.active:
        raise CouponNotApplicableError(
            f"Promotion code {code.code} is inactive.", reason="inactive"
        )
    if coupon.redeem_by is not None and moment > coupon.redeem_by:
        raise CouponExpiredError(f"Coupon {coupon.id} expired.", redeem_by=coupon.redeem_by)
    if code is not None and code.expires_at is not None and moment > code.expires_at:
        raise CouponExpiredError(f"Promotion code {code.code} expired.", expires_at=code.expires_at)
    if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
        raise CouponExhaustedError(f"Coupon {coupon.id} has been fully redeemed.")
    code_limit = None if code is None else code.max_redemptions
    if code is not None and code_limit is not None and code.times_redeemed >= code_limit:
        raise CouponExhaustedError(f"Promotion code {code.code} has been fully redeemed.")
    per_customer = coupon.max_redemptions_per_customer
    if per_customer is not None and customer_stats.coupon_redemptions >= per_customer:
        raise CouponExhaustedError(
            f"Customer {customer_stats.customer_id} already used coupon {coupon.id}.",
            reason="per_customer",
        )
    restrictions = code.restrictions if code is not None else PromotionRestrictions()
    allowed_customer = restrictions.customer_id
    if allowed_customer is not None and allowed_customer != customer_stats.customer_id:
        raise CouponNotApplicableError("This code is for another customer.", reason="customer")
    first_only = coupon.first_time_transaction or restrictions.first_time_transaction
    if first_only and customer_stats.has_prior_transactions:
        raise CouponNotApplicableError(
            "This coupon is for a first purchase only.", reason="first_time_transaction"
        )
    check_order_conditions(coupon, code, order)


def check_order_conditions(coupon: Coupon, code: PromotionCode | None, order: OrderSummary) -> None:
    """The rules that depend on the order's lines alone: currency (amount-off and minimums),
    minimum amounts (coupon and code) and product/price restrictions. :func:`check_redeemable`
    ends with them; an invoice draft re-checks them whenever its lines change.

    :raises CouponCurrencyMismatchError: no amount/minimum in the order's currency.
    :raises MinimumAmountNotMetError: subtotal below a minimum amount.
    :raises CouponNotApplicableError: no eligible line (``reason="applies_to"``).
    """
    if coupon.amount_off:
        coupon.amount_off_for(order.currency)
    _check_minimum(coupon.minimum_amount, order, f"Coupon {coupon.id}")
    if code is not None:
        _check_minimum(code.restrictions.minimum_amount, order, f"Promotion code {code.code}")
    if coupon.restricted and not any(
        line.amount > 0 and coupon.applies_to(product_id=line.product_id, price_id=line.price_id)
        for line in order.lines
    ):
        raise CouponNotApplicableError(
            f"Coupon {coupon.id} applies to none of the order's products.", reason="applies_to"
        )


def redeem(
    coupon: Coupon, code: PromotionCode | None = None
) -> tuple[Coupon, PromotionCode | None]:
    """Copies with ``times_redeemed`` counted; storage saves them atomically with the order."""
    counted = coupon.model_copy(update={"times_redeemed": coupon.times_redeemed + 1})
    counted_code = (
        None
        if code is None
        else code.model_copy(update={"times_redeemed": code.times_redeemed + 1})
    )
    return counted, counted_code


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])  # Jan 31 + 1 month -> Feb 28/29
    return moment.replace(year=year, month=month, day=day)


class Discount(BaseModel):
    """A coupon applied to a customer, subscription or invoice, from ``start`` to ``end``.

    ``end`` is ``None`` for ``forever`` coupons; ``once`` discounts apply to the first
    invoice only, which the caller records by setting ``end`` when that invoice finalizes.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    coupon: Coupon
    promotion_code_id: str | None = None
    customer_id: str | None = None
    subscription_id: str | None = None
    invoice_id: str | None = None
    start: datetime
    end: datetime | None = None

    def active_at(self, moment: datetime) -> bool:
        """True while the discount covers ``moment`` (an invoice period start)."""
        at = ensure_aware(moment, name="moment")
        return self.start <= at and (self.end is None or at < self.end)


def start_discount(
    discount_id: str,
    coupon: Coupon,
    start: datetime,
    *,
    promotion_code: PromotionCode | None = None,
    **links: Any,
) -> Discount:
    """A :class:`Discount` whose ``end`` follows the coupon's duration.

    ``repeating`` coupons end ``duration_in_months`` calendar months after ``start``;
    ``once`` and ``forever`` have no end (``once`` is closed after its first invoice).
    """
    begin = ensure_aware(start, name="start")
    end = None
    if coupon.duration is CouponDuration.REPEATING and coupon.duration_in_months is not None:
        end = _add_months(begin, coupon.duration_in_months)
    return Discount(
        id=discount_id,
        coupon=coupon,
        promotion_code_id=None if promotion_code is None else promotion_code.id,
        start=begin,
        end=end,
        **links,
    )


__all__ = [
    "Coupon",
    "CouponDuration",
    "CustomerRedemptionStats",
    "Discount",
    "OrderLine",
    "OrderSummary",
    "PromotionCode",
    "PromotionRestrictions",
    "check_order_conditions",
    "check_redeemable",
    "normalize_code",
    "redeem",
    "start_discount",
]
