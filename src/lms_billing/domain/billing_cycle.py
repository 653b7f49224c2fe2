"""Billing-cycle math: period boundaries from a billing cycle anchor, as Stripe computes them.

Every boundary is computed *from the anchor* (``add_interval(anchor, ..., n)``), never by
adding one interval to the previous boundary, so month-end anchors never drift: an anchor on
Jan 31 gives Feb 28 (Feb 29 in leap years), Mar 31, Apr 30, May 31 ... exactly like Stripe.
All datetimes are timezone-aware and normalized to UTC (Stripe bills in UTC too); naive ones
are rejected. Pure functions only: ``at`` is always passed in.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Self, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, model_validator

from lms_billing.clock import ensure_aware
from lms_billing.domain.catalog import Interval, check_interval_count
from lms_billing.errors import InvalidIntervalError, InvalidSubscriptionError, ValidationError

E = TypeVar("E", bound=StrEnum)


def parse_enum(enum_type: type[E], value: object, *, name: str) -> E:
    """``enum_type(value)``, raising :class:`InvalidSubscriptionError` (not ``ValueError``)."""
    if isinstance(value, str):
        try:
            return enum_type(value)
        except ValueError:
            pass
    choices = [member.value for member in enum_type]
    raise InvalidSubscriptionError(
        f"{name} must be one of {choices}, got {value!r}.", field=name, value=repr(value)
    )


UtcDatetime = Annotated[datetime, AfterValidator(ensure_aware)]
"""A pydantic field holding an aware datetime, normalized to UTC (naive ones are rejected)."""


class BillingCycleMode(StrEnum):
    """How the first billing cycle anchor is chosen when a subscription starts.

    ``anniversary`` bills on the day the subscription started (Stripe's default);
    ``calendar`` aligns every renewal to a calendar boundary (the 1st of the month for
    monthly prices) and prorates the short first period.
    """

    ANNIVERSARY = "anniversary"
    CALENDAR = "calendar"


class BillingPeriod(BaseModel):
    """A half-open period ``[start, end)``: ``end`` is the next period's ``start``."""

    model_config = ConfigDict(frozen=True)

    start: UtcDatetime
    end: UtcDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValidationError(
                "A billing period must end after it starts.",
                start=self.start.isoformat(),
                end=self.end.isoformat(),
            )
        return self

    @property
    def seconds(self) -> int:
        """Length in whole seconds (proration works to the second)."""
        return _whole_seconds(self.end - self.start)

    def contains(self, at: datetime) -> bool:
        moment = ensure_aware(at, name="at")
        return self.start <= moment < self.end


def _whole_seconds(delta: timedelta) -> int:
    # Floor to whole seconds: Stripe timestamps (and proration) have one-second resolution.
    return delta // timedelta(seconds=1)


def _out_of_range(start: datetime, unit: Interval, steps: int) -> InvalidIntervalError:
    return InvalidIntervalError(
        f"{steps} {unit.value}(s) from {start.isoformat()} is outside the supported dates.",
        anchor=start.isoformat(),
        interval=unit.value,
        steps=steps,
    )


def _check_interval(interval: Interval | str) -> Interval:
    try:
        return Interval(interval)
    except ValueError as exc:
        raise InvalidIntervalError(f"Unknown interval {interval!r}.", interval=interval) from exc


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _add_months(anchor: datetime, months: int) -> datetime:
    # Clamp the anchor's day to the target month's length: Jan 31 + 1 month = Feb 28/29.
    month_index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    day = anchor.day
    if day > 28:  # only the 29th to the 31st can overflow a month
        length = 29 if month == 2 and calendar.isleap(year) else _MONTH_DAYS[month - 1]
        day = min(day, length)
    return anchor.replace(year=year, month=month, day=day)


def add_interval(anchor: datetime, interval: Interval | str, count: int, n: int) -> datetime:
    """The ``n``-th boundary after ``anchor``: ``anchor + n * count * interval``.

    Months and years clamp to the end of shorter months, always from the anchor's own day
    (Jan 31 -> Feb 28 -> Mar 31 -> Apr 30); a Feb 29 anchor renews yearly on Feb 28 and on
    Feb 29 again in leap years. ``n`` may be negative (boundaries before the anchor).
    """
    start = ensure_aware(anchor, name="anchor")
    if isinstance(n, bool) or not isinstance(n, int):
        raise InvalidIntervalError(f"n must be an integer, got {n!r}.", n=repr(n))
    unit = _check_interval(interval)
    return _boundary(start, unit, check_interval_count(unit, count) * n)


def _boundary(start: datetime, unit: Interval, steps: int) -> datetime:
    # add_interval on inputs already checked (callers computing several boundaries check once).
    # A boundary past year 9999 (or before year 1) is an InvalidIntervalError, never the
    # ValueError / OverflowError datetime raises.
    try:
        if unit is Interval.DAY:
            return start + timedelta(days=steps)
        if unit is Interval.WEEK:
            return start + timedelta(weeks=steps)
        if unit is Interval.MONTH:
            return _add_months(start, steps)
        return _add_months(start, 12 * steps)
    except (ValueError, OverflowError) as exc:
        raise _out_of_range(start, unit, steps) from exc


def _estimate_index(anchor: datetime, unit: Interval, count: int, at: datetime) -> int:
    if unit is Interval.DAY:
        return (at - anchor) // timedelta(days=count)
    if unit is Interval.WEEK:
        return (at - anchor) // timedelta(weeks=count)
    months = (at.year - anchor.year) * 12 + (at.month - anchor.month)
    if unit is Interval.YEAR:
        months = months // 12 * 12
        count *= 12
    return months // count


def period_index(anchor: datetime, interval: Interval | str, count: int, at: datetime) -> int:
    """The ``k`` with ``add_interval(anchor, .., k) <= at < add_interval(anchor, .., k + 1)``."""
    return _locate(anchor, interval, count, at)[0]


def _locate(
    anchor: datetime, interval: Interval | str, count: int, at: datetime
) -> tuple[int, datetime, datetime]:
    """``period_index`` with the two boundaries around ``at`` (each computed once)."""
    start = ensure_aware(anchor, name="anchor")
    moment = ensure_aware(at, name="at")
    unit = _check_interval(interval)
    check_interval_count(unit, count)
    k = _estimate_index(start, unit, count, moment)
    low = _boundary(start, unit, count * k)
    # The estimate is off by at most one because of month-end clamping and time of day.
    while low > moment:
        k -= 1
        low = _boundary(start, unit, count * k)
    high = _boundary(start, unit, count * (k + 1))
    while high <= moment:
        k, low = k + 1, high
        high = _boundary(start, unit, count * (k + 1))
    return k, low, high


def period_containing(
    anchor: datetime, interval: Interval | str, count: int, at: datetime
) -> BillingPeriod:
    """The billing period of the cycle anchored at ``anchor`` that contains ``at``."""
    _, start, end = _locate(anchor, interval, count, at)
    return BillingPeriod(start=start, end=end)


def next_period(
    anchor: datetime, interval: Interval | str, count: int, current: BillingPeriod
) -> BillingPeriod:
    """The period that follows ``current`` in the cycle anchored at ``anchor``."""
    return period_containing(anchor, interval, count, current.end)


def calendar_anchor(start: datetime, interval: Interval | str) -> datetime:
    """The first calendar boundary at or after ``start`` (UTC midnight).

    Month intervals align to the 1st of the month, years to January 1st, weeks to Monday,
    days to midnight. A ``start`` exactly on a boundary is its own anchor (no stub period).
    """
    moment = ensure_aware(start, name="start")
    unit = _check_interval(interval)
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    if unit is Interval.DAY:
        boundary = midnight
        step = timedelta(days=1)
    elif unit is Interval.WEEK:
        boundary = midnight - timedelta(days=midnight.weekday())
        step = timedelta(weeks=1)
    elif unit is Interval.MONTH:
        boundary = midnight.replace(day=1)
        return boundary if boundary == moment else _boundary(boundary, unit, 1)
    else:
        boundary = midnight.replace(month=1, day=1)
        return boundary if boundary == moment else _boundary(boundary, unit, 1)
    if boundary == moment:
        return boundary
    try:
        return boundary + step
    except OverflowError as exc:
        raise _out_of_range(boundary, unit, 1) from exc


def billing_cycle_anchor(
    start: datetime, interval: Interval | str, mode: BillingCycleMode = BillingCycleMode.ANNIVERSARY
) -> datetime:
    """The anchor for a subscription starting at ``start``: itself, or the next calendar day 1."""
    if parse_enum(BillingCycleMode, mode, name="billing_mode") is BillingCycleMode.CALENDAR:
        return calendar_anchor(start, interval)
    return ensure_aware(start, name="start")


def first_period(
    start: datetime, anchor: datetime, interval: Interval | str, count: int
) -> BillingPeriod:
    """The first period of a subscription: ``[start, anchor)`` when the anchor is later
    (a short, prorated stub period for calendar billing), otherwise the full first cycle."""
    begin = ensure_aware(start, name="start")
    first_anchor = ensure_aware(anchor, name="anchor")
    if first_anchor < begin:
        raise ValidationError(
            "The billing cycle anchor cannot be before the subscription start.",
            start=begin.isoformat(),
            anchor=first_anchor.isoformat(),
        )
    if first_anchor > begin:
        return BillingPeriod(start=begin, end=first_anchor)
    return BillingPeriod(start=begin, end=add_interval(begin, interval, count, 1))


__all__ = [
    "BillingCycleMode",
    "BillingPeriod",
    "Interval",
    "UtcDatetime",
    "add_interval",
    "billing_cycle_anchor",
    "calendar_anchor",
    "first_period",
    "next_period",
    "parse_enum",
    "period_containing",
    "period_index",
]
