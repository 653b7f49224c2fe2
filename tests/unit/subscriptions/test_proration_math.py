"""Proration to the second, Stripe's documented examples, and plan changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sub_factories import make_item, make_sub, utc

from lms_billing.domain.billing_cycle import BillingPeriod
from lms_billing.domain.proration import (
    ProrationBehavior,
    charge_for_remaining_time,
    credit_for_unused_time,
    net_amount,
    prorate,
    proration_items,
    unused_fraction,
)
from lms_billing.domain.subscription_changes import (
    update_items,
)
from lms_billing.domain.subscriptions import (
    Subscription,
    activate,
    transition,
)
from lms_billing.errors import (
    CurrencyMismatchError,
    InvalidSubscriptionError,
    InvalidSubscriptionOperationError,
)
from lms_billing.money import RoundingMode

APRIL = BillingPeriod(start=utc(2024, 4, 1), end=utc(2024, 5, 1))  # 30 days
HALFWAY = utc(2024, 4, 16)
TEN = make_item(unit_amount=1000)
TWENTY = make_item(price_id="price_pro_plus", unit_amount=2000)


def active_sub(**overrides: object) -> Subscription:
    return activate(make_sub(**overrides), at=utc(2024, 4, 1))


def test_stripe_upgrade_halfway_credits_500_and_charges_1000() -> None:
    lines = proration_items([TEN], [TWENTY], APRIL, HALFWAY)
    assert [(line.amount, line.price_id) for line in lines] == [
        (-500, "price_pro_monthly"),
        (1000, "price_pro_plus"),
    ]
    assert lines[0].description == "Unused time on 1 × price_pro_monthly after 16 Apr 2024"  # noqa: RUF001
    assert lines[1].description == "Remaining time on 1 × price_pro_plus after 16 Apr 2024"  # noqa: RUF001
    assert all(line.proration and line.currency == "USD" for line in lines)
    assert all((line.period_start, line.period_end) == (HALFWAY, APRIL.end) for line in lines)
    assert net_amount(lines) == 500


def test_downgrade_halfway_nets_a_credit() -> None:
    lines = proration_items([TWENTY], [TEN.model_copy(update={"id": TWENTY.id})], APRIL, HALFWAY)
    assert [line.amount for line in lines] == [-1000, 500]


def test_quantity_change_credits_old_seats_and_charges_new_seats() -> None:
    old = make_item(quantity=2)
    new = make_item(quantity=5)
    lines = proration_items([old], [new], APRIL, HALFWAY)
    assert [(line.amount, line.quantity) for line in lines] == [(-1000, 2), (2500, 5)]


def test_added_and_removed_items_get_one_line_each() -> None:
    addon = make_item(id="si_ai", price_id="price_ai", unit_amount=600)
    added = proration_items([TEN], [TEN, addon], APRIL, HALFWAY)
    assert [(line.amount, line.subscription_item_id) for line in added] == [(300, "si_ai")]
    removed = proration_items([TEN, addon], [TEN], APRIL, HALFWAY)
    assert [(line.amount, line.subscription_item_id) for line in removed] == [(-300, "si_ai")]
    assert proration_items([TEN], [TEN], APRIL, HALFWAY) == ()


def test_proration_is_computed_to_the_second() -> None:
    seconds = APRIL.seconds  # an amount of one minor unit per second makes the count visible
    item = make_item(unit_amount=seconds)
    at = APRIL.start + timedelta(days=10, hours=3, minutes=7, seconds=11)
    remaining = int((APRIL.end - at).total_seconds())
    assert credit_for_unused_time(item, APRIL, at).amount == -remaining
    assert charge_for_remaining_time(item, APRIL, at).amount == remaining
    # Sub-second parts of the proration date are ignored, as Stripe's Unix timestamps do.
    assert prorate(seconds, APRIL, at + timedelta(microseconds=999_999)) == remaining


def test_period_edges() -> None:
    assert unused_fraction(APRIL, APRIL.start) == 1
    assert unused_fraction(APRIL, APRIL.end) == 0
    assert prorate(1000, APRIL, APRIL.start) == 1000
    assert proration_items([TEN], [TWENTY], APRIL, APRIL.end) == ()  # zero lines are dropped


def test_a_change_in_the_first_second_of_a_sub_second_period_prorates_it_all() -> None:
    # Under the system clock a subscription starts at e.g. 10:00:00.7; a change 0.2 s later
    # used to drop to 10:00:00, "before" the period, and fail.
    start = utc(2026, 3, 1, 10).replace(microsecond=700_000)
    sub = activate(make_sub(at=start), at=start)
    change_at = start + timedelta(microseconds=200_000)
    result = update_items(sub, [TWENTY.model_copy(update={"id": "si_base"})], at=change_at)
    assert [line.amount for line in result.proration_items] == [-1000, 2000]
    assert all(line.period_start == start for line in result.proration_items)
    period = sub.current_period
    assert unused_fraction(period, change_at) == 1
    assert prorate(1000, period, period.start) == 1000
    assert prorate(1000, period, period.end) == 0
    with pytest.raises(InvalidSubscriptionError):  # still checked before it is truncated
        prorate(1000, period, start - timedelta(microseconds=1))


def test_rounding_is_explicit_half_up_by_default() -> None:
    # 5 minor units over half a period is exactly 2.5.
    assert prorate(5, APRIL, HALFWAY) == 3
    assert prorate(5, APRIL, HALFWAY, RoundingMode.HALF_EVEN) == 2
    assert prorate(-5, APRIL, HALFWAY) == -3  # credits round on their magnitude
    assert prorate(5, APRIL, HALFWAY, RoundingMode.DOWN) == 2


def test_proration_date_must_be_in_the_period() -> None:
    with pytest.raises(InvalidSubscriptionError):
        proration_items([TEN], [TWENTY], APRIL, utc(2024, 5, 2))
    with pytest.raises(InvalidSubscriptionError):
        prorate(1000, APRIL, utc(2024, 3, 31))


def test_items_in_different_currencies_cannot_be_prorated() -> None:
    with pytest.raises(CurrencyMismatchError):
        proration_items([TEN], [make_item(currency="EUR")], APRIL, HALFWAY)


# --- update_items: proration behaviours -------------------------------------------------------


def test_create_prorations_leaves_lines_pending() -> None:
    result = update_items(active_sub(), [TWENTY.model_copy(update={"id": "si_base"})], at=HALFWAY)
    assert [line.amount for line in result.proration_items] == [-500, 1000]
    assert result.invoice_now is False and result.billing_cycle_reset is False
    assert result.subscription.items[0].price_id == "price_pro_plus"
    assert result.subscription.current_period == APRIL  # same cycle


def test_always_invoice_bills_the_prorations_now() -> None:
    result = update_items(
        active_sub(),
        [make_item(quantity=3)],
        at=HALFWAY,
        proration_behavior=ProrationBehavior.ALWAYS_INVOICE,
    )
    assert [line.amount for line in result.proration_items] == [-500, 1500]
    assert result.invoice_now is True


def test_proration_behavior_none_changes_items_without_lines() -> None:
    result = update_items(
        active_sub(), [make_item(quantity=3)], at=HALFWAY, proration_behavior="none"
    )
    assert result.proration_items == () and result.invoice_now is False
    assert result.subscription.items[0].quantity == 3


def test_explicit_proration_date() -> None:
    result = update_items(
        active_sub(),
        [make_item(quantity=2)],
        at=utc(2024, 4, 20),
        proration_date=HALFWAY,  # e.g. the instant a preview was shown to the customer
    )
    assert [line.amount for line in result.proration_items] == [-500, 1000]


def test_interval_change_resets_the_cycle_and_bills_now() -> None:
    yearly = make_item(price_id="price_pro_yearly", unit_amount=10_000, interval="year")
    result = update_items(active_sub(), [yearly], at=HALFWAY)
    assert result.billing_cycle_reset is True and result.invoice_now is True
    assert [line.amount for line in result.proration_items] == [-500]  # unused April
    sub = result.subscription
    assert sub.billing_cycle_anchor == HALFWAY
    assert sub.current_period == BillingPeriod(start=HALFWAY, end=utc(2025, 4, 16))
    none = update_items(active_sub(), [yearly], at=HALFWAY, proration_behavior="none")
    assert none.proration_items == () and none.invoice_now is True


def test_trials_are_not_prorated() -> None:
    trialing = make_sub(trial_period_days=14)
    result = update_items(trialing, [make_item(quantity=4)], at=utc(2024, 4, 5))
    assert result.proration_items == () and result.subscription.items[0].quantity == 4


def test_ended_subscriptions_cannot_change() -> None:
    canceled = transition(active_sub(), "canceled", cause="requested", actor="cus_1", at=HALFWAY)
    with pytest.raises(InvalidSubscriptionOperationError):
        update_items(canceled, [TWENTY], at=HALFWAY)
    with pytest.raises(InvalidSubscriptionOperationError):
        update_items(make_sub(), [TWENTY], at=HALFWAY)  # incomplete
