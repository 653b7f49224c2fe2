"""Property tests: proration is symmetric, bounded and consistent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sub_factories import make_item

from lms_billing.domain.billing_cycle import BillingPeriod, add_interval
from lms_billing.domain.proration import (
    charge_for_remaining_time,
    credit_for_unused_time,
    prorate,
    proration_items,
)
from lms_billing.domain.subscriptions import SubscriptionItem
from lms_billing.money import RoundingMode

amounts = st.integers(min_value=0, max_value=10_000_000)
quantities = st.integers(min_value=0, max_value=500)
modes = st.sampled_from(list(RoundingMode))


@st.composite
def period_and_instant(draw: st.DrawFn) -> tuple[BillingPeriod, datetime]:
    start = draw(
        st.datetimes(
            min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
        )
    ).replace(microsecond=0)
    interval = draw(st.sampled_from(["day", "week", "month", "year"]))
    count = draw(st.integers(min_value=1, max_value=3))
    period = BillingPeriod(start=start, end=add_interval(start, interval, count, 1))
    offset = draw(st.integers(min_value=0, max_value=period.seconds))
    return period, start + timedelta(seconds=offset)


@st.composite
def items(draw: st.DrawFn, item_id: str = "si_base") -> SubscriptionItem:
    return make_item(
        id=item_id,
        price_id=draw(st.sampled_from(["price_a", "price_b", "price_c"])),
        unit_amount=draw(amounts),
        quantity=draw(quantities),
    )


@settings(max_examples=200, deadline=None)
@given(when=period_and_instant(), old=items(), new=items(), mode=modes)
def test_a_change_and_its_reverse_at_the_same_instant_net_to_zero(
    when: tuple[BillingPeriod, datetime],
    old: SubscriptionItem,
    new: SubscriptionItem,
    mode: RoundingMode,
) -> None:
    period, at = when
    forward = proration_items([old], [new], period, at, mode)
    backward = proration_items([new], [old], period, at, mode)
    assert sum(line.amount for line in (*forward, *backward)) == 0


@settings(max_examples=200, deadline=None)
@given(when=period_and_instant(), item=items(), mode=modes)
def test_lines_are_bounded_by_the_full_period_amount_and_mirror_each_other(
    when: tuple[BillingPeriod, datetime], item: SubscriptionItem, mode: RoundingMode
) -> None:
    period, at = when
    credit = credit_for_unused_time(item, period, at, mode)
    charge = charge_for_remaining_time(item, period, at, mode)
    assert -item.amount <= credit.amount <= 0 <= charge.amount <= item.amount
    assert credit.amount == -charge.amount


@settings(max_examples=150, deadline=None)
@given(when=period_and_instant(), amount=amounts, later=st.integers(min_value=0, max_value=10**6))
def test_later_changes_prorate_less(
    when: tuple[BillingPeriod, datetime], amount: int, later: int
) -> None:
    period, at = when
    after = min(period.end, at + timedelta(seconds=later))
    assert prorate(amount, period, after) <= prorate(amount, period, at)
    assert prorate(amount, period, period.start) == amount
    assert prorate(amount, period, period.end) == 0


@settings(max_examples=150, deadline=None)
@given(when=period_and_instant(), old=items(), new=items(), addon=items(item_id="si_addon"))
def test_credit_plus_charge_equals_the_prorated_difference(
    when: tuple[BillingPeriod, datetime],
    old: SubscriptionItem,
    new: SubscriptionItem,
    addon: SubscriptionItem,
) -> None:
    period, at = when
    new_addon = addon.model_copy(update={"price_id": "price_addon"})
    lines = proration_items([old], [new, new_addon], period, at)
    expected = prorate(new.amount, period, at) - prorate(old.amount, period, at)
    if (old.price_id, old.amount, old.quantity) == (new.price_id, new.amount, new.quantity):
        expected = 0
    expected += prorate(new_addon.amount, period, at)
    assert sum(line.amount for line in lines) == expected
