"""Cancellation (now or at period end), resuming before the period ends, pausing collection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sub_factories import make_item, make_sub, utc

from lms_billing.domain.proration import ProrationItem
from lms_billing.domain.renewal import (
    DueEventType,
    InvoiceCollection,
    RenewalAction,
    due_events,
    is_due,
    plan_renewal,
)
from lms_billing.domain.subscription_changes import (
    cancel,
    cancel_at_period_end,
    pause_collection,
    resume_before_period_end,
    resume_collection,
)
from lms_billing.domain.subscriptions import (
    MissingPaymentMethodBehavior,
    PauseCollectionBehavior,
    Subscription,
    SubscriptionStatus,
    TrialEndBehavior,
    TrialSettings,
    activate,
    collection_paused_at,
    end_trial,
    transition,
)
from lms_billing.errors import (
    InvalidStateTransitionError,
    InvalidSubscriptionError,
    InvalidSubscriptionOperationError,
)

APRIL_END = utc(2024, 5, 1)
HALFWAY = utc(2024, 4, 16)


def active_sub(**overrides: object) -> Subscription:
    return activate(make_sub(**overrides), at=utc(2024, 4, 1))


def test_cancel_now_with_proration_credit() -> None:
    sub = active_sub(
        items=[
            make_item(unit_amount=3000),
            make_item(id="si_ai", price_id="price_ai", unit_amount=999),
        ]
    )
    result = cancel(sub, at=HALFWAY, actor="cus_1", cause="requested_by_customer", prorate=True)
    assert result.subscription.status is SubscriptionStatus.CANCELED
    assert result.subscription.ended_at == HALFWAY
    assert [(line.amount, line.price_id) for line in result.credit_items] == [
        (-1500, "price_pro_monthly"),
        (-500, "price_ai"),  # 499.5 rounds half up on the magnitude
    ]
    transition_record = result.subscription.history[-1]
    assert (transition_record.cause, transition_record.actor) == ("requested_by_customer", "cus_1")


def test_cancel_now_without_proration_or_during_trial_has_no_credit() -> None:
    assert cancel(active_sub(), at=HALFWAY, actor="cus_1").credit_items == ()
    trialing = make_sub(trial_period_days=14)
    assert cancel(trialing, at=utc(2024, 4, 3), actor="cus_1", prorate=True).credit_items == ()


def test_canceled_subscriptions_cannot_be_canceled_again() -> None:
    canceled = cancel(active_sub(), at=HALFWAY, actor="cus_1").subscription
    with pytest.raises(InvalidStateTransitionError):
        cancel(canceled, at=HALFWAY, actor="cus_1")
    with pytest.raises(InvalidSubscriptionOperationError):
        cancel_at_period_end(canceled, at=HALFWAY)


def test_cancel_at_period_end_then_the_renewal_cancels() -> None:
    scheduled = cancel_at_period_end(active_sub(), at=HALFWAY)
    assert scheduled.cancel_at_period_end and scheduled.status is SubscriptionStatus.ACTIVE
    assert scheduled.canceled_at == HALFWAY
    plan = plan_renewal(scheduled, APRIL_END + timedelta(minutes=3))
    assert plan.action is RenewalAction.CANCELED_AT_PERIOD_END and plan.invoice is None
    assert plan.subscription.status is SubscriptionStatus.CANCELED
    assert plan.subscription.ended_at == APRIL_END
    assert not is_due(plan.subscription, APRIL_END + timedelta(days=40))


def test_cancel_at_period_end_invoices_pending_prorations_on_a_final_invoice() -> None:
    pending = ProrationItem(
        description="Remaining time on 1 × price_ai after 16 Apr 2024",  # noqa: RUF001
        amount=250,
        currency="USD",
        period_start=HALFWAY,
        period_end=APRIL_END,
        price_id="price_ai",
        quantity=1,
    )
    plan = plan_renewal(
        cancel_at_period_end(active_sub(), at=HALFWAY), APRIL_END, pending_items=[pending]
    )
    assert plan.invoice is not None
    assert [(line.amount, line.proration) for line in plan.invoice.lines] == [(250, True)]


def test_resume_before_period_end_undoes_the_cancellation() -> None:
    scheduled = cancel_at_period_end(active_sub(), at=HALFWAY)
    resumed = resume_before_period_end(scheduled, at=utc(2024, 4, 20))
    assert not resumed.cancel_at_period_end and resumed.canceled_at is None
    assert plan_renewal(resumed, APRIL_END).action is RenewalAction.RENEW
    with pytest.raises(InvalidSubscriptionOperationError):
        resume_before_period_end(resumed, at=utc(2024, 4, 21))  # nothing scheduled
    with pytest.raises(InvalidSubscriptionOperationError):
        resume_before_period_end(scheduled, at=APRIL_END)  # too late


@pytest.mark.parametrize("behavior", list(PauseCollectionBehavior))
def test_paused_collection_still_invoices_with_the_pause_behavior(
    behavior: PauseCollectionBehavior,
) -> None:
    paused = pause_collection(active_sub(), behavior=behavior, at=HALFWAY)
    assert paused.status is SubscriptionStatus.ACTIVE  # collection, not the subscription
    plan = plan_renewal(paused, APRIL_END)
    assert plan.invoice is not None
    assert plan.invoice.collection == InvoiceCollection(behavior.value)
    assert plan.subscription.pause_collection == paused.pause_collection


def test_pause_with_resume_date_ends_on_its_own() -> None:
    paused = pause_collection(
        active_sub(), behavior="mark_uncollectible", at=HALFWAY, resumes_at=utc(2024, 6, 1)
    )
    may = plan_renewal(paused, APRIL_END)
    assert (
        may.invoice is not None and may.invoice.collection is InvoiceCollection.MARK_UNCOLLECTIBLE
    )
    june = plan_renewal(may.subscription, utc(2024, 6, 1))
    assert june.invoice is not None
    assert june.invoice.collection is InvoiceCollection.CHARGE_AUTOMATICALLY
    assert june.subscription.pause_collection is None
    assert collection_paused_at(paused, utc(2024, 6, 1)) is None
    events = due_events(paused, utc(2024, 6, 1, 1))
    assert DueEventType.COLLECTION_RESUME_DUE in [e.type for e in events]


def test_pause_validation_and_manual_resume() -> None:
    with pytest.raises(InvalidSubscriptionError):
        pause_collection(active_sub(), behavior="void", at=HALFWAY, resumes_at=HALFWAY)
    with pytest.raises(InvalidSubscriptionError):
        pause_collection(active_sub(), behavior="skip", at=HALFWAY)
    with pytest.raises(InvalidSubscriptionOperationError):
        resume_collection(active_sub())
    with pytest.raises(InvalidSubscriptionOperationError):
        pause_collection(make_sub(), behavior="void", at=HALFWAY)  # incomplete
    paused = pause_collection(active_sub(), behavior="void", at=HALFWAY)
    assert resume_collection(paused).pause_collection is None


def test_unpaid_subscriptions_keep_new_invoices_as_drafts() -> None:
    sub = active_sub()
    late = transition(sub, "past_due", cause="payment_failed", actor="system", at=utc(2024, 4, 2))
    unpaid = transition(
        late, "unpaid", cause="retries_exhausted", actor="system", at=utc(2024, 4, 20)
    )
    past_due_plan = plan_renewal(late, APRIL_END)
    assert past_due_plan.invoice is not None
    assert past_due_plan.invoice.collection is InvoiceCollection.CHARGE_AUTOMATICALLY
    plan = plan_renewal(unpaid, APRIL_END)
    assert plan.invoice is not None and plan.invoice.collection is InvoiceCollection.KEEP_AS_DRAFT


def test_a_trial_scheduled_to_cancel_ends_without_converting() -> None:
    trialing = make_sub(trial_period_days=14)
    plan = plan_renewal(cancel_at_period_end(trialing, at=utc(2024, 4, 3)), utc(2024, 4, 15))
    assert plan.action is RenewalAction.CANCELED_AT_PERIOD_END and plan.invoice is None
    assert plan.subscription.status is SubscriptionStatus.CANCELED
    assert plan.subscription.ended_at == utc(2024, 4, 15)


def test_paused_subscriptions_can_be_canceled() -> None:
    behavior = TrialEndBehavior(missing_payment_method=MissingPaymentMethodBehavior.PAUSE)
    trialing = make_sub(
        trial_period_days=7,
        default_payment_method=None,
        trial_settings=TrialSettings(end_behavior=behavior),
    )
    paused = end_trial(trialing, at=utc(2024, 4, 8))
    canceled = cancel(paused, at=utc(2024, 4, 9), actor="admin:support", prorate=True)
    assert canceled.subscription.status is SubscriptionStatus.CANCELED
    assert canceled.credit_items == ()  # nothing paid, nothing to credit
