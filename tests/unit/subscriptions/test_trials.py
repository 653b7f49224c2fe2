"""Trials: days or end date, with or without a payment method, and what happens at the end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sub_factories import make_sub, utc

from lms_billing.domain.billing_cycle import BillingCycleMode, BillingPeriod
from lms_billing.domain.renewal import (
    DueEventType,
    RenewalAction,
    due_events,
    plan_period_invoice,
    plan_renewal,
)
from lms_billing.domain.subscription_changes import (
    resume,
)
from lms_billing.domain.subscriptions import (
    MissingPaymentMethodBehavior,
    SubscriptionStatus,
    TrialEndBehavior,
    TrialSettings,
    end_trial,
    set_payment_method,
    transition,
)
from lms_billing.errors import (
    InvalidSubscriptionError,
    InvalidSubscriptionOperationError,
)

START = utc(2024, 4, 1, 9)
TRIAL_END = utc(2024, 4, 15, 9)


def settings_for(behavior: MissingPaymentMethodBehavior) -> TrialSettings:
    return TrialSettings(end_behavior=TrialEndBehavior(missing_payment_method=behavior))


def test_trial_period_days_starts_trialing_anchored_at_trial_end() -> None:
    sub = make_sub(at=START, trial_period_days=14)
    assert sub.status is SubscriptionStatus.TRIALING
    assert (sub.trial_start, sub.trial_end) == (START, TRIAL_END)
    assert sub.billing_cycle_anchor == TRIAL_END
    assert sub.current_period == BillingPeriod(start=START, end=TRIAL_END)


def test_trial_end_date_and_calendar_billing_after_the_trial() -> None:
    sub = make_sub(at=START, trial_end=TRIAL_END, billing_mode=BillingCycleMode.CALENDAR)
    assert sub.trial_end == TRIAL_END and sub.billing_cycle_anchor == utc(2024, 5, 1)
    converted = end_trial(sub, at=TRIAL_END)
    assert converted.current_period == BillingPeriod(start=TRIAL_END, end=utc(2024, 5, 1))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"trial_period_days": 14, "trial_end": TRIAL_END},
        {"trial_period_days": 0},
        {"trial_period_days": 731},
        {"trial_end": START},
        {"trial_end": START - timedelta(days=1)},
    ],
)
def test_invalid_trials(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidSubscriptionError):
        make_sub(at=START, **kwargs)


def test_trial_with_payment_method_converts_to_active() -> None:
    active = end_trial(make_sub(at=START, trial_period_days=14), at=TRIAL_END)
    assert active.status is SubscriptionStatus.ACTIVE
    assert active.current_period == BillingPeriod(start=TRIAL_END, end=utc(2024, 5, 15, 9))
    assert active.history[-1].cause == "trial_ended"


def test_without_payment_method_default_create_invoice_still_converts() -> None:
    sub = make_sub(at=START, trial_period_days=14, default_payment_method=None)
    assert end_trial(sub, at=TRIAL_END).status is SubscriptionStatus.ACTIVE


def test_without_payment_method_cancel() -> None:
    sub = make_sub(
        at=START,
        trial_period_days=14,
        default_payment_method=None,
        trial_settings=settings_for(MissingPaymentMethodBehavior.CANCEL),
    )
    ended = end_trial(sub, at=TRIAL_END + timedelta(hours=1))  # a late billing run
    assert ended.status is SubscriptionStatus.CANCELED
    assert ended.ended_at == TRIAL_END  # recorded at the trial end, not the run time
    assert ended.history[-1].cause == "trial_ended_without_payment_method"


def test_without_payment_method_pause_then_resume() -> None:
    sub = make_sub(
        at=START,
        trial_period_days=14,
        default_payment_method=None,
        trial_settings=settings_for(MissingPaymentMethodBehavior.PAUSE),
    )
    paused = end_trial(sub, at=TRIAL_END)
    assert paused.status is SubscriptionStatus.PAUSED
    resumed_at = utc(2024, 4, 20, 12)
    resumed = resume(set_payment_method(paused, "pm_card_visa"), at=resumed_at, actor="cus_1")
    assert resumed.status is SubscriptionStatus.ACTIVE
    assert resumed.billing_cycle_anchor == resumed_at
    assert resumed.current_period == BillingPeriod(start=resumed_at, end=utc(2024, 5, 20, 12))


def test_payment_method_added_during_trial_converts() -> None:
    sub = make_sub(
        at=START,
        trial_period_days=14,
        default_payment_method=None,
        trial_settings=settings_for(MissingPaymentMethodBehavior.CANCEL),
    )
    assert end_trial(set_payment_method(sub, "pm_1"), at=TRIAL_END).status == "active"


def test_ending_a_trial_early_reanchors_the_cycle() -> None:
    early = utc(2024, 4, 5, 10)
    active = end_trial(make_sub(at=START, trial_period_days=14), at=early)
    assert active.trial_end == early and active.billing_cycle_anchor == early
    assert active.current_period == BillingPeriod(start=early, end=utc(2024, 5, 5, 10))


def test_only_trialing_subscriptions_end_trials() -> None:
    with pytest.raises(InvalidSubscriptionOperationError):
        end_trial(make_sub(at=START), at=TRIAL_END)
    with pytest.raises(InvalidSubscriptionOperationError):
        resume(make_sub(at=START), at=TRIAL_END, actor="cus_1")


def test_trial_will_end_is_due_three_days_before() -> None:
    sub = make_sub(at=START, trial_period_days=14)
    notice = TRIAL_END - timedelta(days=3)
    assert due_events(sub, notice - timedelta(seconds=1)) == ()
    events = due_events(sub, notice + timedelta(hours=5))
    assert [(e.type, e.due_at) for e in events] == [(DueEventType.TRIAL_WILL_END, notice)]
    assert (
        events[0].idempotency_key
        == f"sub_1:customer.subscription.trial_will_end:{int(notice.timestamp())}"
    )
    event = events[0].as_event("evt_1")
    assert event.type == "customer.subscription.trial_will_end"
    assert event.data["subscription_id"] == "sub_1"
    at_end = due_events(sub, TRIAL_END)
    assert [e.type for e in at_end] == [DueEventType.RENEWAL_DUE]


def test_short_trials_announce_their_end_at_once() -> None:
    sub = make_sub(at=START, trial_period_days=2)
    assert [(e.type, e.due_at) for e in due_events(sub, START)] == [
        (DueEventType.TRIAL_WILL_END, START)
    ]


def test_trial_end_renewal_converts_and_invoices_the_first_period() -> None:
    plan = plan_renewal(make_sub(at=START, trial_period_days=14), TRIAL_END)
    assert plan.action is RenewalAction.TRIAL_CONVERTED
    assert plan.subscription.status is SubscriptionStatus.ACTIVE
    assert plan.invoice is not None and plan.invoice.total == 1000
    assert plan.invoice.period == BillingPeriod(start=TRIAL_END, end=utc(2024, 5, 15, 9))


@pytest.mark.parametrize(
    ("behavior", "action", "status"),
    [
        (MissingPaymentMethodBehavior.CANCEL, RenewalAction.TRIAL_CANCELED, "canceled"),
        (MissingPaymentMethodBehavior.PAUSE, RenewalAction.TRIAL_PAUSED, "paused"),
    ],
)
def test_trial_end_renewal_without_payment_method(
    behavior: MissingPaymentMethodBehavior, action: RenewalAction, status: str
) -> None:
    sub = make_sub(
        at=START,
        trial_period_days=14,
        default_payment_method=None,
        trial_settings=settings_for(behavior),
    )
    plan = plan_renewal(sub, TRIAL_END)
    assert plan.action is action and plan.invoice is None
    assert plan.subscription.status == status


def test_a_failed_first_payment_after_trial_is_past_due() -> None:
    active = end_trial(make_sub(at=START, trial_period_days=14), at=TRIAL_END)
    late = transition(active, "past_due", cause="payment_failed", actor="system", at=TRIAL_END)
    assert late.status is SubscriptionStatus.PAST_DUE
    with pytest.raises(InvalidSubscriptionOperationError):
        end_trial(late, at=TRIAL_END)  # not trialing any more


def test_the_trial_period_invoice_is_free() -> None:
    invoice = plan_period_invoice(make_sub(at=START, trial_period_days=14))
    assert [(line.amount, line.description) for line in invoice.lines] == [
        (0, "Trial period for 1 × price_pro_monthly")  # noqa: RUF001
    ]
    assert invoice.total == 0
