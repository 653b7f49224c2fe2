"""Billing intervals are capped at three years (Stripe's limit) and the billing-cycle math
never leaks ``ValueError`` / ``OverflowError`` from ``datetime``."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sub_factories import make_item

from lms_billing.domain.billing_cycle import (
    add_interval,
    calendar_anchor,
    next_period,
    period_containing,
    period_index,
)
from lms_billing.domain.catalog import MAX_INTERVAL_COUNT, Interval, Recurring
from lms_billing.errors import InvalidIntervalError

LIMITS = [("day", 1095), ("week", 156), ("month", 36), ("year", 3)]


@pytest.mark.parametrize(("interval", "limit"), LIMITS)
def test_three_years_is_the_longest_interval(interval: str, limit: int) -> None:
    assert MAX_INTERVAL_COUNT[Interval(interval)] == limit
    assert Recurring(interval=interval, interval_count=limit).interval_count == limit
    assert make_item(interval=interval, interval_count=limit).interval_count == limit
    with pytest.raises(InvalidIntervalError) as caught:
        Recurring(interval=interval, interval_count=limit + 1)
    assert caught.value.details["max_interval_count"] == limit
    with pytest.raises(InvalidIntervalError):
        make_item(interval=interval, interval_count=limit + 1)
    with pytest.raises(InvalidIntervalError):
        add_interval(datetime(2026, 1, 1, tzinfo=UTC), interval, limit + 1, 1)


def test_a_huge_interval_count_is_a_typed_error_not_a_crash() -> None:
    # It used to pass validation and then crash in add_interval with a bare ValueError.
    with pytest.raises(InvalidIntervalError):
        Recurring(interval="year", interval_count=10**6)
    with pytest.raises(InvalidIntervalError):
        add_interval(datetime(2026, 1, 1, tzinfo=UTC), "year", 10**6, 1)


@pytest.mark.parametrize("interval", ["day", "week", "month", "year"])
def test_boundaries_past_year_9999_raise_invalid_interval(interval: str) -> None:
    near_the_end = datetime(9999, 6, 1, tzinfo=UTC)
    with pytest.raises(InvalidIntervalError):
        add_interval(near_the_end, interval, 1, 10**5)
    with pytest.raises(InvalidIntervalError):
        add_interval(datetime(1, 6, 1, tzinfo=UTC), interval, 1, -(10**5))
    with pytest.raises(InvalidIntervalError):
        # The period holding Dec 31, 9999 would end in year 10000.
        period_containing(
            datetime(9999, 1, 1, tzinfo=UTC), interval, 1, datetime.max.replace(tzinfo=UTC)
        )


def test_calendar_anchor_and_next_period_at_the_end_of_time() -> None:
    last = datetime(9999, 12, 31, 12, tzinfo=UTC)
    for interval in ("day", "month", "year"):
        with pytest.raises(InvalidIntervalError):
            calendar_anchor(last, interval)
    period = period_containing(
        datetime(9999, 1, 1, tzinfo=UTC), "month", 1, datetime(9999, 11, 15, tzinfo=UTC)
    )
    assert period.end == datetime(9999, 12, 1, tzinfo=UTC)
    with pytest.raises(InvalidIntervalError):
        next_period(datetime(9999, 1, 1, tzinfo=UTC), "month", 1, period)


@settings(max_examples=300, deadline=None)
@given(
    interval=st.sampled_from(["day", "week", "month", "year"]),
    count=st.integers(min_value=-(10**9), max_value=10**9),
    n=st.integers(min_value=-(10**9), max_value=10**9),
    anchor=st.datetimes(timezones=st.just(UTC)),
    at=st.datetimes(timezones=st.just(UTC)),
)
def test_cycle_math_raises_only_invalid_interval(
    interval: str, count: int, n: int, anchor: datetime, at: datetime
) -> None:
    for call in (
        lambda: add_interval(anchor, interval, count, n),
        lambda: period_index(anchor, interval, count, at),
        lambda: period_containing(anchor, interval, count, at),
        lambda: calendar_anchor(at, interval),
    ):
        with contextlib.suppress(InvalidIntervalError):
            call()
