"""Billing-cycle math: month-end anchors, intervals, calendar billing, periods."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.billing_cycle import (
    BillingCycleMode,
    BillingPeriod,
    Interval,
    add_interval,
    billing_cycle_anchor,
    calendar_anchor,
    first_period,
    next_period,
    period_containing,
)
from lms_billing.domain.catalog import MAX_INTERVAL_COUNT
from lms_billing.errors import InvalidIntervalError, ValidationError


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def boundaries(anchor: datetime, interval: str, count: int, n: int) -> list[str]:
    return [add_interval(anchor, interval, count, k).date().isoformat() for k in range(n)]


def test_jan_31_anchor_follows_month_ends_for_years_without_drift() -> None:
    anchor = utc(2023, 1, 31, 9, 30)
    seen = [add_interval(anchor, Interval.MONTH, 1, k) for k in range(72)]
    for k, moment in enumerate(seen):
        year, month = 2023 + (k // 12), k % 12 + 1
        assert (moment.year, moment.month) == (year, month)
        assert moment.day == min(31, calendar.monthrange(year, month)[1])
        assert (moment.hour, moment.minute) == (9, 30)  # time of day is kept
    assert boundaries(anchor, "month", 1, 5) == [
        "2023-01-31",
        "2023-02-28",
        "2023-03-31",  # back to the 31st: computed from the anchor, not from Feb 28
        "2023-04-30",
        "2023-05-31",
    ]
    assert add_interval(anchor, "month", 1, 13).date().isoformat() == "2024-02-29"  # leap year


def test_feb_29_anchor_yearly_and_monthly() -> None:
    anchor = utc(2024, 2, 29)
    assert boundaries(anchor, "year", 1, 6) == [
        "2024-02-29",
        "2025-02-28",
        "2026-02-28",
        "2027-02-28",
        "2028-02-29",
        "2029-02-28",
    ]
    assert boundaries(anchor, "month", 1, 4) == [
        "2024-02-29",
        "2024-03-29",
        "2024-04-29",
        "2024-05-29",
    ]


def test_aug_31_quarterly_over_three_years() -> None:
    assert boundaries(utc(2023, 8, 31), "month", 3, 13) == [
        "2023-08-31",
        "2023-11-30",
        "2024-02-29",
        "2024-05-31",
        "2024-08-31",
        "2024-11-30",
        "2025-02-28",
        "2025-05-31",
        "2025-08-31",
        "2025-11-30",
        "2026-02-28",
        "2026-05-31",
        "2026-08-31",
    ]


def test_day_and_week_intervals_with_counts() -> None:
    anchor = utc(2024, 2, 25, 12)
    assert boundaries(anchor, "day", 10, 4) == [
        "2024-02-25",
        "2024-03-06",
        "2024-03-16",
        "2024-03-26",
    ]
    assert boundaries(anchor, "week", 2, 3) == ["2024-02-25", "2024-03-10", "2024-03-24"]
    assert add_interval(anchor, "week", 1, 1) - anchor == timedelta(days=7)


def test_negative_steps_go_back_from_the_anchor() -> None:
    assert add_interval(utc(2024, 3, 31), "month", 1, -1) == utc(2024, 2, 29)
    assert add_interval(utc(2024, 3, 31), "year", 1, -1) == utc(2023, 3, 31)


def test_datetimes_are_normalized_to_utc_and_naive_ones_rejected() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert add_interval(datetime(2024, 1, 31, 2, tzinfo=plus_two), "month", 1, 1) == utc(
        2024, 2, 29
    )  # 2024-01-31T00:00Z + 1 month, computed in UTC
    with pytest.raises(ValidationError):
        add_interval(datetime(2024, 1, 31), "month", 1, 1)


@pytest.mark.parametrize("count", [0, -1, True])
def test_interval_count_must_be_positive(count: int) -> None:
    with pytest.raises(InvalidIntervalError):
        add_interval(utc(2024, 1, 1), "month", count, 1)


def test_unknown_interval_is_rejected() -> None:
    with pytest.raises(InvalidIntervalError):
        add_interval(utc(2024, 1, 1), "fortnight", 1, 1)


def test_period_containing_is_half_open() -> None:
    anchor = utc(2024, 1, 31)
    period = period_containing(anchor, "month", 1, utc(2024, 3, 15))
    assert period == BillingPeriod(start=utc(2024, 2, 29), end=utc(2024, 3, 31))
    assert period_containing(anchor, "month", 1, utc(2024, 3, 31)).start == utc(2024, 3, 31)
    just_before = utc(2024, 3, 31) - timedelta(microseconds=1)
    assert period_containing(anchor, "month", 1, just_before) == period
    assert period.contains(period.start) and not period.contains(period.end)


def test_period_before_the_anchor() -> None:
    period = period_containing(utc(2024, 2, 1), "month", 1, utc(2024, 1, 15))
    assert period == BillingPeriod(start=utc(2024, 1, 1), end=utc(2024, 2, 1))


def test_next_period_follows_the_anchor() -> None:
    anchor = utc(2024, 1, 31)
    first = period_containing(anchor, "month", 1, anchor)
    second = next_period(anchor, "month", 1, first)
    third = next_period(anchor, "month", 1, second)
    assert [p.end.date().isoformat() for p in (first, second, third)] == [
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
    ]
    assert second.start == first.end and third.start == second.end


def test_billing_period_must_end_after_start() -> None:
    with pytest.raises(ValidationError):
        BillingPeriod(start=utc(2024, 1, 2), end=utc(2024, 1, 1))


def test_period_seconds() -> None:
    assert BillingPeriod(start=utc(2024, 4, 1), end=utc(2024, 5, 1)).seconds == 30 * 86_400


@pytest.mark.parametrize(
    ("interval", "start", "anchor"),
    [
        ("month", utc(2025, 1, 15, 10, 30), utc(2025, 2, 1)),
        ("month", utc(2025, 12, 3), utc(2026, 1, 1)),
        ("month", utc(2025, 2, 1), utc(2025, 2, 1)),  # already on the 1st: no stub
        ("year", utc(2025, 3, 10), utc(2026, 1, 1)),
        ("week", utc(2025, 1, 15, 8), utc(2025, 1, 20)),  # Wednesday -> next Monday
        ("day", utc(2025, 1, 15, 8), utc(2025, 1, 16)),
    ],
)
def test_calendar_anchor(interval: str, start: datetime, anchor: datetime) -> None:
    assert calendar_anchor(start, interval) == anchor
    assert billing_cycle_anchor(start, interval, BillingCycleMode.CALENDAR) == anchor


def test_anniversary_anchor_is_the_start() -> None:
    start = utc(2025, 1, 15, 10, 30)
    assert billing_cycle_anchor(start, "month") == start


def test_first_period_is_a_stub_until_a_later_anchor() -> None:
    start = utc(2025, 1, 15)
    assert first_period(start, utc(2025, 2, 1), "month", 1) == BillingPeriod(
        start=start, end=utc(2025, 2, 1)
    )
    assert first_period(start, start, "month", 1).end == utc(2025, 2, 15)
    with pytest.raises(ValidationError):
        first_period(start, utc(2025, 1, 1), "month", 1)


anchors = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31), timezones=st.just(UTC)
)
offsets = st.timedeltas(min_value=timedelta(days=-2000), max_value=timedelta(days=4000))


@settings(max_examples=150, deadline=None)
@given(
    anchor=anchors,
    offset=offsets,
    interval=st.sampled_from(list(Interval)),
    count=st.integers(min_value=1, max_value=6),
)
def test_periods_contain_the_instant_and_tile(
    anchor: datetime, offset: timedelta, interval: Interval, count: int
) -> None:
    count = min(count, MAX_INTERVAL_COUNT[interval])  # at most three years
    at = anchor + offset
    period = period_containing(anchor, interval, count, at)
    assert period.contains(at)
    following = next_period(anchor, interval, count, period)
    assert following.start == period.end
    # Boundaries keep the anchor's day when the month has it (never drift to a shorter day).
    if interval in (Interval.MONTH, Interval.YEAR):
        last_day = calendar.monthrange(period.start.year, period.start.month)[1]
        assert period.start.day == min(anchor.day, last_day)
