"""Proration: credit for unused time and charge for remaining time, to the second (Stripe).

When a subscription changes mid-period at ``proration_date``::

    fraction = (period.end - proration_date) / (period.end - period.start)   # whole seconds
    credit   = -round(old_amount * fraction)     # "Unused time on ..."
    charge   = +round(new_amount * fraction)     # "Remaining time on ..."

``old_amount``/``new_amount`` are the item's full-period amounts (unit amount x quantity).
Each line is rounded on its own, on its magnitude, with an explicit :class:`RoundingMode`
(``HALF_UP`` by default); a credit is the exact negation of the charge it reverses, so a
change and its reverse at the same instant always net to zero.

This module is pure math over anything shaped like a subscription item
(:class:`ProratableItem`); :mod:`lms_billing.domain.subscriptions` decides *when* to prorate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.clock import ensure_aware
from lms_billing.domain.billing_cycle import BillingPeriod, UtcDatetime
from lms_billing.errors import CurrencyMismatchError, InvalidSubscriptionError
from lms_billing.money import (
    DECIMAL_CONTEXT,
    DEFAULT_ROUNDING,
    CurrencyCode,
    RoundingMode,
    SignedMinorUnits,
    round_minor,
)


class ProrationBehavior(StrEnum):
    """Stripe's ``proration_behavior``.

    ``create_prorations`` leaves the proration lines pending for the next invoice;
    ``always_invoice`` invoices them immediately; ``none`` creates no proration at all.
    """

    CREATE_PRORATIONS = "create_prorations"
    ALWAYS_INVOICE = "always_invoice"
    NONE = "none"


class ProratableItem(Protocol):
    """What proration needs from a subscription item (``SubscriptionItem`` fits)."""

    @property
    def id(self) -> str: ...

    @property
    def price_id(self) -> str: ...

    @property
    def quantity(self) -> int: ...

    @property
    def unit_amount(self) -> int: ...

    @property
    def currency(self) -> str: ...


class ProrationItem(BaseModel):
    """One proration line, pending until an invoice picks it up (a Stripe invoice item)."""

    model_config = ConfigDict(frozen=True)

    description: str
    amount: SignedMinorUnits = Field(description="Negative for credits, positive for charges.")
    currency: CurrencyCode
    period_start: UtcDatetime
    period_end: UtcDatetime
    proration: bool = True
    price_id: str
    quantity: int
    subscription_item_id: str | None = None


def _proration_instant(period: BillingPeriod, proration_date: datetime) -> datetime:
    # Checked as given, then dropped to the whole second (Stripe's timestamps) but never
    # before the period start: boundaries keep their microseconds (a subscription created
    # at 10:00:00.7 under the system clock), so a change at 10:00:00.9 prorates the full
    # period instead of falling "before" it.
    given = ensure_aware(proration_date, name="proration_date")
    if not period.start <= given <= period.end:
        raise InvalidSubscriptionError(
            "proration_date must fall within the current billing period.",
            proration_date=given.isoformat(),
            period_start=period.start.isoformat(),
            period_end=period.end.isoformat(),
        )
    return max(given.replace(microsecond=0), period.start)


def unused_fraction(period: BillingPeriod, proration_date: datetime) -> Fraction:
    """The exact share of ``period`` left after ``proration_date`` (0..1), in whole seconds."""
    moment = _proration_instant(period, proration_date)
    if period.seconds < 1:
        raise InvalidSubscriptionError("Cannot prorate over a period shorter than a second.")
    remaining_seconds = (period.end - moment) // timedelta(seconds=1)
    return Fraction(remaining_seconds, period.seconds)


def _round_fraction(value: Fraction, rounding: RoundingMode) -> int:
    # Decimal division in the library's private context (34 digits): exact enough that a
    # true half (denominator 2) stays a half, so HALF_UP / HALF_EVEN decide ties correctly.
    quotient = DECIMAL_CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))
    return round_minor(quotient, rounding)


def prorate(
    amount: int,
    period: BillingPeriod,
    proration_date: datetime,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> int:
    """The share of a full-period ``amount`` (minor units) for the time left in ``period``.

    Rounded once, on the magnitude, with ``rounding`` (a named rounding point); the sign of
    ``amount`` is kept, so ``prorate(-x) == -prorate(x)``.
    """
    fraction = unused_fraction(period, proration_date)
    magnitude = _round_fraction(abs(amount) * fraction, rounding)
    return -magnitude if amount < 0 else magnitude


def _label(item: ProratableItem) -> str:
    return f"{item.quantity} × {item.price_id}"  # noqa: RUF001 - Stripe's own wording


def credit_for_unused_time(
    item: ProratableItem,
    period: BillingPeriod,
    proration_date: datetime,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> ProrationItem:
    """The credit line for the part of ``period`` the old item will no longer use."""
    moment = _proration_instant(period, proration_date)
    full = item.unit_amount * item.quantity
    return ProrationItem(
        description=f"Unused time on {_label(item)} after {moment:%d %b %Y}",
        amount=-prorate(full, period, moment, rounding),
        currency=item.currency,
        period_start=moment,
        period_end=period.end,
        price_id=item.price_id,
        quantity=item.quantity,
        subscription_item_id=item.id,
    )


def charge_for_remaining_time(
    item: ProratableItem,
    period: BillingPeriod,
    proration_date: datetime,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> ProrationItem:
    """The charge line for the part of ``period`` the new item will be used."""
    moment = _proration_instant(period, proration_date)
    full = item.unit_amount * item.quantity
    return ProrationItem(
        description=f"Remaining time on {_label(item)} after {moment:%d %b %Y}",
        amount=prorate(full, period, moment, rounding),
        currency=item.currency,
        period_start=moment,
        period_end=period.end,
        price_id=item.price_id,
        quantity=item.quantity,
        subscription_item_id=item.id,
    )


def _same_terms(old: ProratableItem, new: ProratableItem) -> bool:
    return (old.price_id, old.quantity, old.unit_amount, old.currency) == (
        new.price_id,
        new.quantity,
        new.unit_amount,
        new.currency,
    )


def proration_items(
    old_items: Sequence[ProratableItem],
    new_items: Sequence[ProratableItem],
    period: BillingPeriod,
    proration_date: datetime,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> tuple[ProrationItem, ...]:
    """Proration lines for replacing ``old_items`` by ``new_items`` at ``proration_date``.

    Items are matched by ``id``. A changed item (price, quantity or unit amount) gets a
    credit for the old terms and a charge for the new ones, as Stripe does for upgrades,
    downgrades and seat changes; a removed item gets only a credit, an added one only a
    charge. Unchanged items and lines that round to zero produce nothing.
    """
    currencies = {item.currency for item in (*old_items, *new_items)}
    if len(currencies) > 1:
        raise CurrencyMismatchError(
            "Cannot prorate between items in different currencies.",
            currencies=sorted(currencies),
        )
    new_by_id = {item.id: item for item in new_items}
    old_ids = {item.id for item in old_items}
    lines: list[ProrationItem] = []
    for old in old_items:
        new = new_by_id.get(old.id)
        if new is not None and _same_terms(old, new):
            continue
        lines.append(credit_for_unused_time(old, period, proration_date, rounding))
        if new is not None:
            lines.append(charge_for_remaining_time(new, period, proration_date, rounding))
    for new in new_items:
        if new.id not in old_ids:
            lines.append(charge_for_remaining_time(new, period, proration_date, rounding))
    return tuple(line for line in lines if line.amount != 0)


def net_amount(items: Sequence[ProrationItem]) -> int:
    """The signed sum of proration lines, in minor units."""
    return sum(item.amount for item in items)


__all__ = [
    "ProratableItem",
    "ProrationBehavior",
    "ProrationItem",
    "charge_for_remaining_time",
    "credit_for_unused_time",
    "net_amount",
    "prorate",
    "proration_items",
    "unused_fraction",
]
