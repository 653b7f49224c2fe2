"""Renewal planning, the upcoming-invoice preview and due events."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sub_factories import make_item, make_sub, utc

from lms_billing.domain.billing_cycle import BillingCycleMode, BillingPeriod
from lms_billing.domain.coupons import Coupon, CouponDuration, Discount, start_discount
from lms_billing.domain.proration import ProrationItem
from lms_billing.domain.renewal import (
    BillingReason,
    DueEventType,
    RenewalAction,
    due_events,
    is_due,
    plan_period_invoice,
    plan_renewal,
    preview_upcoming_invoice,
    remaining_discount_months,
)
from lms_billing.domain.subscription_changes import (
    cancel,
    cancel_at_period_end,
    update_items,
)
from lms_billing.domain.subscriptions import (
    MissingPaymentMethodBehavior,
    Subscription,
    TrialEndBehavior,
    TrialSettings,
    activate,
    end_trial,
)
from lms_billing.errors import CurrencyMismatchError, InvalidSubscriptionOperationError

APRIL_START = utc(2024, 4, 1)
HALFWAY = utc(2024, 4, 16)
MAY = utc(2024, 5, 1)


def active_sub(**overrides: object) -> Subscription:
    start = overrides.get("at", APRIL_START)
    assert isinstance(start, datetime)
    return activate(make_sub(**overrides), at=start)


def coupon(**fields: object) -> Coupon:
    return Coupon(**{"id": "co_1", "percent_off": Decimal(20), **fields})


def test_jan_31_anchor_renews_on_month_ends_for_two_years() -> None:
    sub = active_sub(at=utc(2024, 1, 31, 8))
    ends: list[str] = []
    for _ in range(25):
        plan = plan_renewal(sub, sub.current_period_end)
        assert plan.action is RenewalAction.RENEW
        assert plan.invoice is not None and plan.invoice.total == 1000
        assert plan.invoice.billing_reason is BillingReason.SUBSCRIPTION_CYCLE
        assert plan.invoice.period == plan.subscription.current_period
        sub = plan.subscription
        ends.append(sub.current_period_end.date().isoformat())
    assert ends[:5] == ["2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30", "2024-07-31"]
    assert ends[11:13] == ["2025-02-28", "2025-03-31"]
    assert ends[-1] == "2026-03-31"
    assert sub.billing_cycle_anchor == utc(2024, 1, 31, 8)


def test_a_subscription_behind_several_periods_renews_one_period_per_plan() -> None:
    sub = active_sub()
    now = utc(2024, 7, 15)
    invoices = 0
    while is_due(sub, now):
        plan = plan_renewal(sub, now)
        sub = plan.subscription
        invoices += 1
    assert invoices == 3  # May, June, July
    assert sub.current_period == BillingPeriod(start=utc(2024, 7, 1), end=utc(2024, 8, 1))


def test_renewal_before_the_period_end_or_of_ended_subscriptions_is_refused() -> None:
    sub = active_sub()
    with pytest.raises(InvalidSubscriptionOperationError):
        plan_renewal(sub, MAY - timedelta(seconds=1))
    canceled = cancel(sub, at=HALFWAY, actor="cus_1").subscription
    with pytest.raises(InvalidSubscriptionOperationError):
        plan_renewal(canceled, utc(2024, 6, 1))
    with pytest.raises(InvalidSubscriptionOperationError):
        plan_renewal(make_sub(), utc(2024, 6, 1))  # incomplete: waits for its first payment


def test_pending_prorations_join_the_next_renewal_invoice() -> None:
    upgrade = update_items(
        active_sub(), [make_item(price_id="price_pro_plus", unit_amount=2000)], at=HALFWAY
    )
    plan = plan_renewal(upgrade.subscription, MAY, pending_items=upgrade.proration_items)
    assert plan.invoice is not None
    assert [(line.amount, line.proration) for line in plan.invoice.lines] == [
        (2000, False),
        (-500, True),
        (1000, True),
    ]
    assert plan.invoice.total == 2500
    assert len({line.line_id for line in plan.invoice.lines}) == 3


def test_pending_items_in_another_currency_are_refused() -> None:
    euro = ProrationItem(
        description="x",
        amount=5,
        currency="EUR",
        period_start=HALFWAY,
        period_end=MAY,
        price_id="p",
        quantity=1,
    )
    with pytest.raises(CurrencyMismatchError):
        plan_renewal(active_sub(), MAY, pending_items=[euro])


def test_calendar_billing_first_invoice_prorates_the_stub_period() -> None:
    sub = make_sub(
        at=utc(2025, 1, 15),
        billing_mode=BillingCycleMode.CALENDAR,
        items=[make_item(unit_amount=3100)],
    )
    first = plan_period_invoice(sub)
    assert first.billing_reason is BillingReason.SUBSCRIPTION_CREATE
    # 17 of January's 31 days: 3100 * 17 / 31 = 1700.
    assert [(line.amount, line.proration) for line in first.lines] == [(1700, True)]
    renewal = plan_renewal(activate(sub, at=utc(2025, 1, 15)), utc(2025, 2, 1))
    assert renewal.invoice is not None and renewal.invoice.total == 3100
    assert renewal.subscription.current_period.end == utc(2025, 3, 1)


def test_repeating_coupon_discounts_three_monthly_invoices() -> None:
    sub = active_sub()
    discount = start_discount(
        "di_1", coupon(duration=CouponDuration.REPEATING, duration_in_months=3), APRIL_START
    )
    first = plan_period_invoice(sub, discounts=[discount])
    assert (first.discount_total, first.total, first.discount_ids) == (200, 800, ("di_1",))
    totals = []
    discounts: tuple[Discount, ...] = (discount,)
    for _ in range(3):
        plan = plan_renewal(sub, sub.current_period_end, discounts=discounts)
        assert plan.invoice is not None
        totals.append(plan.invoice.total)
        sub, discounts = plan.subscription, plan.discounts
    assert totals == [800, 800, 1000]  # April (first invoice), May, June discounted; July not
    assert remaining_discount_months(discount, APRIL_START) == 3
    assert remaining_discount_months(discount, utc(2024, 5, 10)) == 2
    assert remaining_discount_months(discount, utc(2024, 7, 1)) == 0


def test_once_coupon_applies_to_one_invoice_and_is_closed() -> None:
    discount = start_discount("di_1", coupon(percent_off=None, amount_off={"USD": 300}), HALFWAY)
    sub = active_sub()
    may = plan_renewal(sub, MAY, discounts=[discount])
    assert may.invoice is not None and may.invoice.total == 700
    assert may.discounts[0].end == may.invoice.period.end
    june = plan_renewal(may.subscription, utc(2024, 6, 1), discounts=may.discounts)
    assert june.invoice is not None and june.invoice.total == 1000
    assert remaining_discount_months(may.discounts[0], utc(2024, 6, 1)) == 0


def test_forever_discounts_and_line_shares_sum_to_the_total() -> None:
    discount = start_discount(
        "di_1", coupon(duration=CouponDuration.FOREVER, percent_off=Decimal("12.5")), APRIL_START
    )
    sub = active_sub(
        items=[
            make_item(unit_amount=999),
            make_item(id="si_ai", price_id="price_ai", unit_amount=501),
        ]
    )
    plan = plan_renewal(sub, MAY, discounts=[discount])
    assert plan.invoice is not None
    assert plan.invoice.discount_total == 188  # 12.5 % of 1500 = 187.5, half up
    assert sum(line.discount_amount for line in plan.invoice.lines) == 188
    assert remaining_discount_months(discount, MAY) is None


def test_preview_matches_the_renewal_and_changes_nothing() -> None:
    sub = active_sub()
    snapshot = sub.model_dump()
    preview = preview_upcoming_invoice(sub, HALFWAY)
    assert preview == plan_renewal(sub, MAY).invoice
    assert sub.model_dump() == snapshot


def test_preview_of_a_plan_change_shows_the_prorations() -> None:
    sub = active_sub()
    preview = preview_upcoming_invoice(
        sub, HALFWAY, items=[make_item(price_id="price_pro_plus", unit_amount=2000)]
    )
    assert preview is not None
    assert [line.amount for line in preview.lines] == [2000, -500, 1000]
    assert sub.items[0].price_id == "price_pro_monthly"  # not applied


def test_preview_of_an_interval_change_is_the_immediate_invoice() -> None:
    yearly = make_item(price_id="price_pro_yearly", unit_amount=10_000, interval="year")
    preview = preview_upcoming_invoice(active_sub(), HALFWAY, items=[yearly])
    assert preview is not None
    assert preview.billing_reason is BillingReason.SUBSCRIPTION_UPDATE
    assert preview.period == BillingPeriod(start=HALFWAY, end=utc(2025, 4, 16))
    assert [line.amount for line in preview.lines] == [10_000, -500]


def test_no_upcoming_invoice_for_ending_or_paused_subscriptions() -> None:
    sub = active_sub()
    assert preview_upcoming_invoice(cancel_at_period_end(sub, at=HALFWAY), HALFWAY) is None
    assert (
        preview_upcoming_invoice(cancel(sub, at=HALFWAY, actor="a").subscription, HALFWAY) is None
    )
    paused = end_trial(
        make_sub(
            trial_period_days=7,
            default_payment_method=None,
            trial_settings=TrialSettings(
                end_behavior=TrialEndBehavior(
                    missing_payment_method=MissingPaymentMethodBehavior.PAUSE
                )
            ),
        ),
        at=utc(2024, 4, 8),
    )
    assert preview_upcoming_invoice(paused, utc(2024, 4, 9)) is None
    assert not is_due(paused, utc(2025, 1, 1))


def test_due_events_for_renewal_and_incomplete_expiry() -> None:
    sub = active_sub()
    assert due_events(sub, MAY - timedelta(seconds=1)) == ()
    assert [(e.type, e.due_at) for e in due_events(sub, MAY)] == [(DueEventType.RENEWAL_DUE, MAY)]
    incomplete = make_sub()
    assert due_events(incomplete, APRIL_START + timedelta(hours=22)) == ()
    expiry = due_events(incomplete, APRIL_START + timedelta(hours=23))
    assert [e.type for e in expiry] == [DueEventType.INCOMPLETE_EXPIRY_DUE]


def test_a_learner_renews_for_months_with_an_upgrade_and_a_coupon() -> None:
    sub = active_sub(items=[make_item(price_id="price_learner_monthly", unit_amount=1500)])
    discounts: tuple[Discount, ...] = (
        start_discount(
            "di_w", coupon(duration=CouponDuration.REPEATING, duration_in_months=2), APRIL_START
        ),
    )
    pending: tuple[ProrationItem, ...] = ()
    totals: list[int] = []
    for month in range(5, 10):  # May .. September renewals
        now = utc(2024, month, 1)
        if month == 6:
            change = update_items(
                sub,
                [make_item(price_id="price_pro_monthly", unit_amount=3000)],
                at=utc(2024, 5, 16),
            )
            sub, pending = change.subscription, change.proration_items
        plan = plan_renewal(sub, now, pending_items=pending, discounts=discounts)
        assert plan.invoice is not None
        totals.append(plan.invoice.total)
        sub, discounts, pending = plan.subscription, plan.discounts, ()
    # May: 1500 - 20 %. June: 3000 plus prorations for the last 16 of May's 31 days,
    # -round(1500 * 16/31) = -774 and +round(3000 * 16/31) = +1548; the coupon ended Jun 1.
    assert totals == [1200, 3774, 3000, 3000, 3000]
