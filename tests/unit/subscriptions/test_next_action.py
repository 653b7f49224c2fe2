"""next_action_at: the instant the billing run must next look at a subscription."""

from __future__ import annotations

from datetime import timedelta

from sub_factories import make_sub, utc

from lms_billing.domain.subscription_changes import cancel, pause_collection
from lms_billing.domain.subscription_records import (
    SubscriptionRecord,
    next_action_at,
    trial_will_end_at,
)
from lms_billing.domain.subscriptions import activate, end_trial


def test_active_subscriptions_are_due_at_their_period_end() -> None:
    sub = activate(make_sub(), at=utc(2024, 4, 1))
    assert next_action_at(sub) == utc(2024, 5, 1)


def test_incomplete_subscriptions_are_due_when_the_first_invoice_expires() -> None:
    assert next_action_at(make_sub()) == utc(2024, 4, 1) + timedelta(hours=23)


def test_trials_are_due_for_the_notice_then_for_the_trial_end() -> None:
    sub = make_sub(trial_period_days=14)
    assert trial_will_end_at(sub) == utc(2024, 4, 12)
    assert next_action_at(sub) == utc(2024, 4, 12)
    assert next_action_at(sub, trial_notice_sent=True) == utc(2024, 4, 15)
    short = make_sub(trial_period_days=2)
    assert trial_will_end_at(short) == utc(2024, 4, 1)  # announced at once


def test_a_collection_pause_ending_first_is_due_first() -> None:
    sub = activate(make_sub(), at=utc(2024, 4, 1))
    paused = pause_collection(sub, behavior="void", at=utc(2024, 4, 2), resumes_at=utc(2024, 4, 10))
    assert next_action_at(paused) == utc(2024, 4, 10)


def test_ended_and_paused_subscriptions_wait_for_a_person() -> None:
    sub = activate(make_sub(), at=utc(2024, 4, 1))
    assert next_action_at(cancel(sub, at=utc(2024, 4, 2), actor="cus_1").subscription) is None
    trial = make_sub(
        trial_period_days=7,
        default_payment_method=None,
        trial_settings={"end_behavior": {"missing_payment_method": "pause"}},
    )
    paused = end_trial(trial, at=utc(2024, 4, 8))
    assert paused.status == "paused" and next_action_at(paused) is None


def test_the_record_exposes_its_next_action() -> None:
    sub = make_sub(trial_period_days=14)
    record = SubscriptionRecord(subscription=sub)
    assert record.id == sub.id and record.next_action_at == utc(2024, 4, 12)
    sent = record.model_copy(update={"trial_notice_sent": True})
    assert sent.next_action_at == utc(2024, 4, 15)
